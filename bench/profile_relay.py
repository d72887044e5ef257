#!/usr/bin/python3
"""Profiles a server under a fan-out load with `perf record -g` (Debian's linux-perf).

Starts the server (the relay, or nginx+nchan) pinned to BENCH_SERVER_CPU, runs
rt-loadgen fanout against it from BENCH_CLIENT_CPU (10 000 subscribers in 100 channels,
64-byte messages, at a fixed deliveries/s or at saturation), and records the server
for the measurement window: `perf record -F 999 --call-graph dwarf -p PID`. Writes the
flat profile (self time by symbol), the inclusive profile (children) and call graphs
of the top symbols to bench/results/profile_<label>.txt, with the load generator's
figures for the same run at its top.

Usage: /usr/bin/python3 bench/profile_relay.py [--server relay|nchan] [--clients 10000]
       [--rate 50000 | --saturation] [--seconds 8] [--label NAME] [--call-graph dwarf|fp]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402


def perf_report(data, args):
    r = subprocess.run(["perf", "report", "-i", data, "--stdio"] + args, capture_output=True, text=True,
                       timeout=900)
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", choices=("relay", "nchan"), default="relay")
    ap.add_argument("--clients", type=int, default=10000)
    ap.add_argument("--channels", type=int, default=100)
    ap.add_argument("--rate", type=int, default=50000, help="deliveries/s")
    ap.add_argument("--saturation", action="store_true")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--label", default=None)
    ap.add_argument("--call-graph", default="dwarf")
    ap.add_argument("--relay-args", default="", help="extra relay flags, space separated")
    ap.add_argument("--keep", default=None, help="keep perf.data at this path")
    opts = ap.parse_args()
    label = opts.label or f"{opts.server}_{opts.clients}_{'sat' if opts.saturation else opts.rate}"
    os.makedirs(C.RESULTS_DIR, exist_ok=True)
    out_txt = os.path.join(C.RESULTS_DIR, f"profile_{label}.txt")
    work = tempfile.mkdtemp(prefix="bench-profile-")
    data = os.path.join(work, "perf.data")
    ready = os.path.join(work, "ready")
    warmup = 3
    load = ["--rate", 0, "--max-outstanding", C.SATURATION_IN_FLIGHT] if opts.saturation else ["--deliveries-rate", opts.rate]
    args = ["fanout", "--clients", opts.clients, "--channels", opts.channels, "--payload-size", 64,
            "--warmup", warmup, "--duration", opts.seconds, "--drain", 1] + load
    server = C.nchan_server() if opts.server == "nchan" else C.Relay(args=opts.relay_args.split())
    result = {}
    try:
        server.start()
        pid = server.pid
        if opts.server == "nchan":
            args += ["--protocol", "nchan", "--target", f"127.0.0.1:{server.port}", "--server-pid", pid]
            if opts.saturation:
                args += ["--pipeline", 16]
        else:
            args += ["--target", f"127.0.0.1:{server.port}", "--jwt-secret", C.JWT_SECRET, "--server-pid", pid]

        def on_ready(p):
            # publishing starts once everyone joined; record the measurement window only
            def rec():
                time.sleep(warmup + 0.3)
                perf = C.spawn(["perf", "record", "-F", "999", "--call-graph", opts.call_graph, "-p", str(pid),
                                "-o", data, "--", "sleep", str(opts.seconds - 0.6)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                perf.wait()
            threading.Thread(target=rec, daemon=True).start()
        result = C.loadgen(args, ready_file=ready, on_ready=on_ready)
        time.sleep(1)
    finally:
        server.stop()
        C.stop_all()
    summary = {k: result.get(k) for k in ("deliveries", "latency_us", "server", "loadgen", "machine")}
    head = f"# perf profile of {opts.server}: {opts.clients} subscribers, " + \
        ("saturation" if opts.saturation else f"{opts.rate} deliveries/s") + f", {opts.seconds} s\n"
    head += "# rt-loadgen figures of the same run:\n# " + json.dumps(summary) + "\n\n"
    by_dso = perf_report(data, ["--no-children", "--sort", "dso", "-g", "none"])
    flat = perf_report(data, ["--no-children", "--sort", "dso,symbol", "--percent-limit", "0.7", "-g", "none"])
    incl = perf_report(data, ["--children", "--sort", "symbol", "--percent-limit", "3", "-g", "none"])
    graph = perf_report(data, ["--no-children", "--sort", "symbol", "--percent-limit", "2.5",
                               "-g", "caller,0.5,callee,function,percent", "--max-stack", "14"])
    with open(out_txt, "w") as f:
        f.write(head + "## self time by object\n" + by_dso + "\n## self time by symbol\n" + flat + "\n## inclusive (children)\n" + incl +
                "\n## call graphs of the top symbols\n" + graph)
    import shutil
    if opts.keep:
        shutil.move(data, opts.keep)
    shutil.rmtree(work, ignore_errors=True)
    C.log(f"profile in {out_txt}")
    print(head)
    print("\n".join(l.rstrip() for l in (by_dso + flat).splitlines() if l and not l.startswith("#"))[:5000])


if __name__ == "__main__":
    main()
