#!/usr/bin/python3
"""Idle connections and connection storm, realtime-relay vs nginx+nchan.

Idle: N WebSocket connections (joined to one of 100 channels; nchan: subscribed), held
with heartbeats running (Phoenix heartbeats to the relay, WebSocket pings to nchan, every
BENCH_IDLE_HEARTBEAT s), at 10 000 connections and at the open-file limit. Resident
memory per connection = (server RSS at the end of the hold - RSS before the first
connection) / N, from /proc/PID/status of the server, which is started fresh.

Storm: connect + join (nchan: WebSocket upgrade to a subscriber location) 10 000 clients
as fast as the load generator's 512 handshakes in flight allow; joins per second from
the first connect() to the last join, and connect-to-joined latency.

Both servers pinned to BENCH_SERVER_CPU, the load generator to BENCH_CLIENT_CPU; runs
disturbed by other processes are retried (BENCH_TRIES).

Usage: BENCH_SIZE=tiny|small|full /usr/bin/python3 bench/idle_bench.py [--only idle|storm]
Writes bench/results/idle.json and bench/results/storm.json and prints tables.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from fanout_bench import CHANNELS, limit_clients  # noqa: E402

SERVERS = ("nchan", "relay")


def with_server(server, fn):
    if server == "nchan":
        with C.nchan_server() as srv:
            return fn(["--protocol", "nchan", "--target", f"127.0.0.1:{srv.port}", "--server-pid", srv.pid])
    with C.Relay() as relay:
        return fn(["--target", f"127.0.0.1:{relay.port}", "--jwt-secret", C.JWT_SECRET,
                   "--server-pid", relay.pid])


def idle_once(server, clients, hold, heartbeat):
    def run(target):
        return C.loadgen(["idle", "--clients", clients, "--channels", CHANNELS, "--duration", hold,
                          "--heartbeat", heartbeat] + target)
    return C.quiet_run(f"idle {clients} {server}", lambda: with_server(server, run))


def storm_once(server, clients):
    def run(target):
        return C.loadgen(["storm", "--clients", clients, "--channels", CHANNELS] + target)
    return C.quiet_run(f"storm {clients} {server}", lambda: with_server(server, run))


def idle_summary(r):
    s = r.get("server") or {}
    return {"clients": r["connections"]["target"], "joined": r["connections"]["joined"],
            "open_at_end": r["connections"]["open_at_end"],
            "rss_before_kb": s.get("rss_before_kb"), "rss_joined_kb": s.get("rss_joined_kb"),
            "rss_end_kb": s.get("rss_end_kb"), "bytes_per_connection": s.get("bytes_per_connection"),
            "server_cpu_util": s.get("cpu_util"),
            "heartbeats_sent": r["idle"]["heartbeats_sent"], "heartbeat_replies": r["idle"]["heartbeat_replies"],
            "hold_s": r["idle"]["hold_s"], "foreign_util": C.foreign_of(r), "tries": r.get("tries"),
            "disturbed": r.get("disturbed"), "errors": r.get("errors")}


def storm_summary(r):
    s = r.get("server") or {}
    j = r.get("join_latency_us") or {}
    return {"clients": r["connections"]["target"], "joined": r["connections"]["joined"],
            "failed": r["connections"]["failed"], "elapsed_s": r["storm"]["elapsed_s"],
            "joins_per_second": r["storm"]["joins_per_second"],
            "join_p50_ms": j.get("p50", 0) / 1000, "join_p99_ms": j.get("p99", 0) / 1000,
            "server_cpu_us_per_join": s.get("cpu_us_per_join"),
            "foreign_util": C.foreign_of(r), "tries": r.get("tries"), "disturbed": r.get("disturbed"),
            "errors": r.get("errors")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("idle", "storm"))
    ap.add_argument("--sizes", default=None, help="idle sizes, e.g. 10000,limit")
    opts = ap.parse_args()
    limit, hard, relay_cap = limit_clients()
    spec = opts.sizes or C.by_size("100", "1000,10000", "10000,limit")
    sizes = [limit if s == "limit" else int(s) for s in spec.split(",")]
    hold = float(os.environ.get("BENCH_IDLE_HOLD", C.by_size(1.5, 10, 30)))
    heartbeat = float(os.environ.get("BENCH_IDLE_HEARTBEAT", C.by_size(0.5, 5, 10)))
    storm_clients = C.by_size(200, 10000, 10000)
    limits = {"nofile_hard": hard, "relay_capacity": relay_cap, "limit_clients": limit}
    try:
        if opts.only in (None, "idle"):
            idle = {}
            for n in sizes:
                idle[str(n)] = {s: idle_summary(idle_once(s, n, hold, heartbeat)) for s in SERVERS}
            rows = [[n, s, v["joined"], v["rss_before_kb"], v["rss_end_kb"], v["bytes_per_connection"],
                     v["heartbeat_replies"], v["disturbed"]] for n, d in idle.items() for s, v in d.items()]
            key = "10000" if "10000" in idle else max(idle, key=int)
            t = {}
            for n, d in idle.items():
                t[n] = {"relay": d["relay"]["bytes_per_connection"], "nchan": d["nchan"]["bytes_per_connection"],
                        "pass": (d["relay"]["bytes_per_connection"] or 0) <= (d["nchan"]["bytes_per_connection"] or 0)}
            targets = {"memory_per_idle_connection_at_most_nchan": {
                "sizes": t, "pass": all(v["pass"] for v in t.values())},
                "issue3_at_most_8kb_at_10k": {"relay": idle[key]["relay"]["bytes_per_connection"],
                                              "pass": (idle[key]["relay"]["bytes_per_connection"] or 1e9) <= 8192}}
            C.write_result("idle", {"channels": CHANNELS, "hold_s": hold, "heartbeat_s": heartbeat,
                                    "limits": limits, "sizes": idle, "targets": targets})
            print("\nIdle connections (heartbeats running): resident memory per connection")
            C.table(["connections", "server", "joined", "RSS before KB", "RSS end KB", "bytes/conn",
                     "hb replies", "disturbed"], rows)
        if opts.only in (None, "storm"):
            storm = {s: storm_summary(storm_once(s, storm_clients)) for s in SERVERS}
            C.write_result("storm", {"channels": CHANNELS, "clients": storm_clients, "limits": limits,
                                     "servers": storm})
            print(f"\nConnection storm: connect + join {storm_clients} clients")
            C.table(["server", "joined", "failed", "seconds", "joins/s", "p50 ms", "p99 ms", "cpu us/join",
                     "disturbed"],
                    [[s, v["joined"], v["failed"], v["elapsed_s"], v["joins_per_second"], v["join_p50_ms"],
                      v["join_p99_ms"], v["server_cpu_us_per_join"], v["disturbed"]] for s, v in storm.items()])
    finally:
        C.stop_all()


if __name__ == "__main__":
    main()
