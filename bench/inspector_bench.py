#!/usr/bin/python3
"""The inspector's cost: fan-out with one inspector page open vs none.

Method. The fan-out of bench/fanout_bench.py (N subscribers in 100 channels, 64-byte
Phoenix broadcasts, build/rt-loadgen pinned to BENCH_CLIENT_CPU, the relay pinned to
BENCH_SERVER_CPU) at fixed delivery rates, each run on a fresh relay started with
--admin-token. In the "inspector" runs a thread does what an open inspector page does
(relay/inspector/www/app.js), for the whole run: the feed's long poll (answered once a
second), a snapshot every 2 s, and every 3 s the channel listing (top 20 of all 100
channels) and one channel's detail (its N/100 members). The relay's CPU time per
delivery and publish-to-receive p50/p99 are compared; runs alternate none/inspector,
repeated BENCH_REPEATS times, medians reported. The results are not tests.

Usage: BENCH_SIZE=tiny|small|full /usr/bin/python3 bench/inspector_bench.py [--clients N]
Writes bench/results/inspector.json (BENCH_RESULTS_DIR) and prints a table.
"""
import argparse
import os
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from fanout_bench import CHANNELS, PAYLOAD, combine, timing  # noqa: E402

ADMIN = "bench-inspector-admin-token-0123456789"
MODES = ("none", "inspector")


class PagePoller:
    """An open inspector page's requests, in a thread, until stopped."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}/api/inspector/"
        self.stop_flag = threading.Event()
        self.requests = 0
        self.errors = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def get(self, what):
        req = urllib.request.Request(self.base + what, headers={"Authorization": f"Bearer {ADMIN}"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                r.read()
            self.requests += 1
        except OSError:
            self.errors += 1

    def run(self):
        seq, next_snapshot, next_channels = 0, 0.0, 0.0
        while not self.stop_flag.is_set():
            self.get(f"feed?after={seq}")
            seq += 1  # the next sample after the one answered (the page reads seq from the body)
            now = time.monotonic()
            if now >= next_snapshot:
                self.get("snapshot")
                next_snapshot = now + 2
            if now >= next_channels:
                self.get("channels?limit=20")
                self.get("channel?topic=lg0")
                next_channels = now + 3

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join(timeout=10)


def run_once(mode, clients, rate, label):
    args = ["fanout", "--clients", clients, "--channels", CHANNELS, "--payload-size", PAYLOAD,
            "--deliveries-rate", rate] + timing()

    def once():
        with C.Relay(args=["--admin-token", ADMIN]) as relay:
            load = args + ["--target", f"127.0.0.1:{relay.port}", "--jwt-secret", C.JWT_SECRET,
                           "--publish-via", "ws", "--server-pid", relay.pid]
            if mode == "none":
                return C.loadgen(load)
            with PagePoller(relay.port) as page:
                r = C.loadgen(load)
            r["inspector_requests"], r["inspector_errors"] = page.requests, page.errors
            return r
    r = C.quiet_run(label, once)
    s = C.fanout_summary(r)
    s["inspector_requests"] = r.get("inspector_requests")
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=C.by_size(200, 10000, 10000))
    ap.add_argument("--rates", default=C.by_size("2000", "20000,50000", "20000,50000,100000"))
    ap.add_argument("--repeats", type=int, default=int(os.environ.get("BENCH_REPEATS", C.by_size(1, 3, 5))))
    opts = ap.parse_args()
    points = []
    try:
        for rate in [int(x) for x in opts.rates.split(",")]:
            runs = {m: [] for m in MODES}
            for i in range(opts.repeats):
                for m in MODES:
                    runs[m].append(run_once(m, opts.clients, rate, f"{opts.clients} subs {rate}/s {m} #{i + 1}"))
            points.append({"deliveries_per_s_target": rate, **{m: combine(v) for m, v in runs.items()}})
    finally:
        C.stop_all()
    C.write_result("inspector", {"clients": opts.clients, "channels": CHANNELS, "payload_bytes": PAYLOAD,
                                 "repeats": opts.repeats, "points": points})
    rows = []
    for p in points:
        for m in MODES:
            v = p[m]
            rows.append([p["deliveries_per_s_target"], m, v["deliveries_per_s"], v["server_cpu_util"],
                         v["cpu_us_per_delivery"], v["p50_ms"], v["p99_ms"], v.get("inspector_requests"),
                         v["disturbed"]])
    print(f"\nFan-out with one inspector page open vs none, {opts.clients} subscribers in {CHANNELS} channels")
    C.table(["load/s", "inspector", "deliv/s", "srv cpu", "us/deliv", "p50 ms", "p99 ms", "page reqs",
             "disturbed"], rows)


if __name__ == "__main__":
    main()
