#!/usr/bin/python3
"""Fan-out, realtime-relay vs nginx+nchan: N subscribers in 100 channels, 64-byte messages.

Method. For each size (1 000, 10 000 and as many subscribers as the open-file limit lets
each process hold), on the same machine in the same run, with the same load generator
(build/rt-loadgen, pinned to BENCH_CLIENT_CPU) and the server pinned to BENCH_SERVER_CPU:

1. saturation: publishers send as fast as 100 000 deliveries in flight allow (closed
   loop, --rate 0; see common.SATURATION_IN_FLIGHT); deliveries/s received. The load
   generator itself tops out around 140-150k deliveries/s on one core when each segment
   carries one message, so when the server did not use its whole core the
   saturation figure is projected from its CPU time per delivery (1e6 / us per
   delivery) and marked so;
2. fixed loads at 25 %, 50 % and 75 % of nchan's measured saturation at that size (and
   at 50 000 deliveries/s for 10 000 subscribers): server CPU time per delivery, and
   publish-to-receive latency p50/p99/p999.

Every run starts a fresh server (nchan degrades across runs). Points are repeated
(BENCH_REPEATS, default 3 at full size) in alternation, nchan then relay, and the median
of each figure is reported. A run during which other processes used more than 5 % of a
core is retried (BENCH_TRIES) and flagged if it stays disturbed.

nchan's publishers POST each message over keep-alive HTTP (pipelined); the relay's
publishers send Phoenix `broadcast` pushes over a WebSocket, as realtime-js does.

Usage: BENCH_SIZE=tiny|small|full /usr/bin/python3 bench/fanout_bench.py
       [--sizes 1000,10000,limit] [--repeats N] [--no-nchan]
Writes bench/results/fanout.json (BENCH_RESULTS_DIR) and prints a table.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

CHANNELS = 100
PAYLOAD = 64
FRACTIONS = (0.25, 0.5, 0.75)
SERVERS = ("nchan", "relay")
# the relay says how many it can hold; every process here has the same hard limit
FD_MARGIN = 64


def timing():
    d, w, dr = C.by_size((1.0, 0.5, 0.5), (4, 1.5, 1.5), (10, 3, 2))
    return ["--duration", d, "--warmup", w, "--drain", dr]


def limit_clients():
    """Subscribers at the open-file limit: each server holds one descriptor per
    connection plus a few of its own; the load generator holds the same (plus one per
    publisher). Rounded down to a multiple of the channel count."""
    hard = C.nofile_limits()["hard"]
    _, relay_cap = C.relay_capacity()
    cap = min(hard - FD_MARGIN, relay_cap or hard) - 1  # one publisher connection
    return cap - cap % CHANNELS, hard, relay_cap


def run_once(server, clients, load_args, label):
    common = ["fanout", "--clients", clients, "--channels", CHANNELS, "--payload-size", PAYLOAD] + \
        timing() + load_args

    def once():
        if server == "nchan":
            with C.nchan_server() as srv:
                return C.loadgen(common + ["--protocol", "nchan", "--target", f"127.0.0.1:{srv.port}",
                                           "--server-pid", srv.pid])
        with C.Relay() as relay:
            return C.loadgen(common + ["--target", f"127.0.0.1:{relay.port}", "--jwt-secret", C.JWT_SECRET,
                                       "--publish-via", "ws", "--server-pid", relay.pid])
    return C.quiet_run(label, once)


def saturation_args(server):
    args = ["--rate", 0, "--max-outstanding", C.SATURATION_IN_FLIGHT]
    return args + (["--pipeline", 16] if server == "nchan" else [])


def combine(runs):
    """Median of each figure over repeats; the runs themselves are kept."""
    out = {}
    for key in runs[0]:
        vals = [x[key] for x in runs]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals if v is not None) \
                and any(v is not None for v in vals):
            out[key] = C.median(vals)
        elif key == "disturbed":
            out[key] = any(vals)
    out["repeats"] = len(runs)
    out["runs"] = runs
    return out


SERVER_BOUND_UTIL = 0.85


def saturation_figure(s):
    """The server's saturation: measured when it used (nearly) its whole core, else
    projected from its CPU per delivery (the load generator was the limit)."""
    if s["server_cpu_util"] is not None and s["server_cpu_util"] >= SERVER_BOUND_UTIL:
        return s["deliveries_per_s"], "measured"
    if s["projected_deliveries_per_core_s"]:
        return max(s["projected_deliveries_per_core_s"], s["deliveries_per_s"]), "projected"
    return s["deliveries_per_s"], "measured"


def bench_size(clients, repeats, with_nchan=True):
    servers = SERVERS if with_nchan else ("relay",)
    sat_runs = {s: [] for s in servers}
    for i in range(repeats):
        for s in servers:
            r = run_once(s, clients, saturation_args(s), f"{clients} subs {s} saturation #{i + 1}")
            sat_runs[s].append(C.fanout_summary(r))
    sat = {s: combine(runs) for s, runs in sat_runs.items()}
    for s in servers:
        fig, basis = saturation_figure(sat[s])
        sat[s]["saturation_deliveries_per_s"] = fig
        sat[s]["saturation_basis"] = basis

    # fixed loads: fractions of nchan's measured saturation (of the relay's when nchan is off)
    ref = sat["nchan"]["deliveries_per_s"] if with_nchan else sat["relay"]["deliveries_per_s"]
    loads = [(f, int(round(ref * f, -2))) for f in FRACTIONS]
    if clients == 10000 and C.SIZE != "tiny":
        loads.append((None, 50000))
    fixed = []
    for fraction, rate in loads:
        runs = {s: [] for s in servers}
        for i in range(repeats):
            for s in servers:
                r = run_once(s, clients, ["--deliveries-rate", rate],
                             f"{clients} subs {s} {rate}/s #{i + 1}")
                runs[s].append(C.fanout_summary(r))
        point = {"fraction_of_nchan_saturation": fraction, "deliveries_per_s_target": rate}
        point.update({s: combine(v) for s, v in runs.items()})
        fixed.append(point)
    return {"clients": clients, "channels": CHANNELS, "subscribers_per_channel": clients // CHANNELS,
            "saturation": sat, "fixed": fixed}


def targets(sizes):
    """Issue 5's fan-out targets at 10 000 subscribers (or the largest size run)."""
    key = "10000" if "10000" in sizes else max(sizes, key=int)
    s = sizes[key]
    if "nchan" not in s["saturation"]:
        return {}
    fixed = [p for p in s["fixed"] if p["fraction_of_nchan_saturation"] is not None]
    cpu = [{"fraction": p["fraction_of_nchan_saturation"], "load": p["deliveries_per_s_target"],
            "relay_us": p["relay"]["cpu_us_per_delivery"], "nchan_us": p["nchan"]["cpu_us_per_delivery"],
            "ratio": (p["relay"]["cpu_us_per_delivery"] / p["nchan"]["cpu_us_per_delivery"])
            if p["nchan"]["cpu_us_per_delivery"] else None} for p in fixed]
    p99 = [{"fraction": p["fraction_of_nchan_saturation"], "load": p["deliveries_per_s_target"],
            "relay_ms": p["relay"]["p99_ms"], "nchan_ms": p["nchan"]["p99_ms"]} for p in fixed]
    rs, ns = s["saturation"]["relay"], s["saturation"]["nchan"]
    ratio = rs["saturation_deliveries_per_s"] / ns["saturation_deliveries_per_s"] \
        if ns["saturation_deliveries_per_s"] else None
    out = {
        "clients": int(key),
        "cpu_per_delivery_at_most_half_of_nchan": {
            "points": cpu, "pass": all(c["ratio"] is not None and c["ratio"] <= 0.5 for c in cpu)},
        "saturation_at_least_1_5x_nchan": {
            "relay": rs["saturation_deliveries_per_s"], "relay_basis": rs["saturation_basis"],
            "nchan": ns["saturation_deliveries_per_s"], "nchan_basis": ns["saturation_basis"],
            "ratio": ratio, "pass": ratio is not None and ratio >= 1.5},
        "p99_no_worse_at_every_fixed_load": {
            "points": p99, "pass": all(p["relay_ms"] <= p["nchan_ms"] for p in p99)},
    }
    at50 = [p for p in s["fixed"] if p["deliveries_per_s_target"] == 50000 and
            p["fraction_of_nchan_saturation"] is None]
    if at50:
        r = at50[0]["relay"]
        out["issue3_relay_at_50k"] = {
            "cpu_us_per_delivery": r["cpu_us_per_delivery"], "p99_ms": r["p99_ms"],
            "pass": r["cpu_us_per_delivery"] is not None and r["cpu_us_per_delivery"] <= 5 and r["p99_ms"] < 5}
    out["issue3_saturation_above_200k"] = {"relay": rs["saturation_deliveries_per_s"],
                                           "pass": rs["saturation_deliveries_per_s"] > 200000}
    return out


def print_tables(sizes):
    for key, s in sizes.items():
        print(f"\nFan-out, {key} subscribers in {CHANNELS} channels, {PAYLOAD}-byte messages")
        rows = []
        for srv, v in s["saturation"].items():
            rows.append([srv, "saturation", v["deliveries_per_s"], v["saturation_deliveries_per_s"],
                         v["saturation_basis"], v["server_cpu_util"], v["cpu_us_per_delivery"],
                         v["p50_ms"], v["p99_ms"], v["p999_ms"], v["loss_ratio"], v["disturbed"]])
        for p in s["fixed"]:
            f = p["fraction_of_nchan_saturation"]
            label = f"{int(f * 100)}% ({p['deliveries_per_s_target']}/s)" if f else f"{p['deliveries_per_s_target']}/s"
            for srv in SERVERS:
                if srv in p:
                    v = p[srv]
                    rows.append([srv, label, v["deliveries_per_s"], None, None, v["server_cpu_util"],
                                 v["cpu_us_per_delivery"], v["p50_ms"], v["p99_ms"], v["p999_ms"],
                                 v["loss_ratio"], v["disturbed"]])
        C.table(["server", "load", "deliv/s", "saturation", "basis", "srv cpu", "us/deliv", "p50 ms",
                 "p99 ms", "p999 ms", "loss", "disturbed"], rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default=None, help="comma-separated subscriber counts; 'limit' = the fd limit")
    ap.add_argument("--repeats", type=int, default=int(os.environ.get("BENCH_REPEATS", C.by_size(1, 1, 3))))
    ap.add_argument("--no-nchan", action="store_true")
    opts = ap.parse_args()
    limit, hard, relay_cap = limit_clients()
    spec = opts.sizes or C.by_size("200", "1000,10000", "1000,10000,limit")
    sizes = [limit if s == "limit" else int(s) for s in spec.split(",")]
    results = {}
    try:
        for n in sizes:
            C.log(f"== fan-out with {n} subscribers")
            results[str(n)] = bench_size(n, opts.repeats, with_nchan=not opts.no_nchan)
    finally:
        C.stop_all()
    data = {"channels": CHANNELS, "payload_bytes": PAYLOAD, "saturation_in_flight": C.SATURATION_IN_FLIGHT,
            "repeats": opts.repeats,
            "limits": {"nofile_hard": hard, "relay_capacity": relay_cap, "limit_clients": limit},
            "publishing": {"nchan": "HTTP POST per message, keep-alive, pipelined",
                           "relay": "Phoenix broadcast push over one WebSocket"},
            "saturation_server_bound_util": SERVER_BOUND_UTIL,
            "sizes": results, "targets": targets(results)}
    C.write_result("fanout", data)
    print_tables(results)


if __name__ == "__main__":
    main()
