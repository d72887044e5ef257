#!/usr/bin/python3
"""Runs every benchmark end to end, then writes docs/benchmarks.md with tables and plots.

`make bench` installs the Debian packages (scripts/install-deps.sh), builds the plugin
and build/realtime-relay + build/rt-loadgen, installs the extension, then runs this.

Benchmarks, each a script that also runs alone and writes bench/results/<name>.json:
    decode     bench/decode_bench.py    plugin decoding vs wal2json and test_decoding
    rls_check  bench/rls_check_bench.py row level security's general path (realtime.check_rows)
    private    bench/private_bench.py   private join storm (membership policy), broadcast_changes fan-out
    fanout     bench/fanout_bench.py    relay vs nginx+nchan fan-out
    idle       bench/idle_bench.py      idle memory per connection, and connection storm
    changes    bench/changes_bench.py   Postgres changes commit -> client, 1 and 3 nodes
    cluster    bench/cluster_bench.py   cross-node latency/throughput, slot failover
    mesh       bench/mesh_bench.py      cross-node hop with CURVE on vs off, the acknowledged hand-over's cost
    resume     bench/resume_bench.py    rejoining after a disconnect: time to the last recovered change, memory
then bench/report.py writes docs/benchmarks.md and docs/img/bench_*.png.

Environment:
    BENCH_SIZE=tiny|small|full   (default full; tiny runs everything in about a minute)
    BENCH_RESULTS_DIR            where the JSON goes (default bench/results)
    BENCH_DOCS_DIR               where benchmarks.md and img/ go (default docs)
    BENCH_SERVER_CPU / BENCH_CLIENT_CPU   cores for the server / the load generator (0 / 1)
    BENCH_TRIES                  tries of a run disturbed by other processes (default 4)
    BENCH_PROFILE=0|1            perf profiles of the fan-out afterwards (default 1 at full size)

Usage: /usr/bin/python3 bench/run_all.py [--only fanout,idle] [--skip decode] [--no-report]
Exits non-zero if a benchmark failed (the others still run, and the report is written
from whatever results exist).
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common as C  # noqa: E402

# perf profiles of the fan-out (bench/profile_relay.py) after the benchmarks; on by default
# at full size
PROFILE = os.environ.get("BENCH_PROFILE", "1" if C.SIZE == "full" else "0") == "1"

BENCHMARKS = [
    ("decode", "decode_bench.py", ["decode"]),
    ("rls_check", "rls_check_bench.py", ["rls_check"]),
    ("private", "private_bench.py", ["private"]),
    ("fanout", "fanout_bench.py", ["fanout"]),
    ("idle", "idle_bench.py", ["idle", "storm"]),
    ("changes", "changes_bench.py", ["changes"]),
    ("cluster", "cluster_bench.py", ["cluster"]),
    ("mesh", "mesh_bench.py", ["mesh"]),
    ("resume", "resume_bench.py", ["resume"]),
]


def check_prerequisites(names):
    problems = []
    for path in (C.LOADGEN, C.RELAY_BIN):
        if not os.access(path, os.X_OK):
            problems.append(f"{path} is not built: make relay")
    if "fanout" in names or "idle" in names:
        import nchan
        if not nchan.available():
            problems.append("nginx + nchan missing: apt-get install nginx libnginx-mod-nchan (scripts/install-deps.sh)")
    if {"decode", "rls_check", "private", "changes", "cluster", "mesh", "resume"} & set(names):
        r = subprocess.run(["/usr/lib/postgresql/15/bin/pg_config", "--pkglibdir"], capture_output=True, text=True)
        lib = r.stdout.strip()
        if not os.path.exists(os.path.join(lib, "pg_realtime.so")):
            problems.append("the pg_realtime plugin is not installed: make install")
        if "decode" in names and not os.path.exists(os.path.join(lib, "wal2json.so")):
            problems.append("wal2json missing: apt-get install postgresql-15-wal2json")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default=None, help="comma-separated benchmark names")
    ap.add_argument("--skip", default="", help="comma-separated benchmark names")
    ap.add_argument("--no-report", action="store_true")
    opts = ap.parse_args()
    names = [b[0] for b in BENCHMARKS]
    wanted = opts.only.split(",") if opts.only else names
    wanted = [n for n in wanted if n not in opts.skip.split(",")]
    unknown = set(wanted) - set(names)
    if unknown:
        raise SystemExit(f"unknown benchmarks: {', '.join(sorted(unknown))} (known: {', '.join(names)})")
    problems = check_prerequisites(wanted)
    if problems:
        raise SystemExit("cannot run the benchmarks:\n  " + "\n  ".join(problems))

    os.makedirs(C.RESULTS_DIR, exist_ok=True)
    env = dict(os.environ, BENCH_SIZE=C.SIZE, BENCH_RESULTS_DIR=C.RESULTS_DIR, BENCH_RUN_ID=C.RUN_ID)
    failed = []
    timings = {}
    started = time.monotonic()
    C.log(f"benchmarks at size {C.SIZE}: {', '.join(wanted)}; results in {C.RESULTS_DIR}")
    for name, script, outputs in BENCHMARKS:
        if name not in wanted:
            continue
        # a result left from an earlier run must not pass for this one's
        for out in outputs:
            path = os.path.join(C.RESULTS_DIR, f"{out}.json")
            if os.path.exists(path):
                os.unlink(path)
        C.log(f"\n===== {name} ({script})")
        t0 = time.monotonic()
        cmd = [sys.executable, os.path.join(HERE, script)]
        p = C.spawn(cmd, env=env)
        try:
            rc = p.wait()
        finally:
            C.stop_process(p)
        timings[name] = round(time.monotonic() - t0, 1)
        missing = [o for o in outputs if not os.path.exists(os.path.join(C.RESULTS_DIR, f"{o}.json"))]
        if rc != 0 or missing:
            failed.append(name)
            C.log(f"===== {name} FAILED (exit {rc}{', no ' + ', '.join(missing) if missing else ''})")
        else:
            C.log(f"===== {name} done in {timings[name]} s")
    if PROFILE and "fanout" in wanted and shutil.which("perf"):
        # perf profiles of both servers under the fan-out load (10 000 subscribers), the
        # evidence behind "what the profiles show" in docs/benchmarks.md
        for args in (["--server", "relay", "--rate", "50000"], ["--server", "nchan", "--rate", "50000"],
                     ["--server", "relay", "--saturation"], ["--server", "nchan", "--saturation"]):
            C.log(f"\n===== profile {' '.join(args)}")
            p = C.spawn([sys.executable, os.path.join(HERE, "profile_relay.py")] + args, env=env,
                        stdout=subprocess.DEVNULL)
            try:
                if p.wait() != 0:
                    failed.append("profile " + " ".join(args))
            finally:
                C.stop_process(p)
    if not opts.no_report:
        sys.argv = [sys.argv[0]]
        import report
        report.main()
    C.log(f"\nall done in {time.monotonic() - started:.0f} s: " +
          ", ".join(f"{k} {v} s" for k, v in timings.items()))
    if failed:
        C.log(f"FAILED: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    finally:
        C.stop_all()
