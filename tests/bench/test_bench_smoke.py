"""Smoke test of the whole benchmark suite (bench/run_all.py): every benchmark runs end to
end at a tiny size (BENCH_SIZE=tiny), writes its JSON with the expected keys, and the
report (benchmarks.md and its plots) is written. It never asserts a speed. Results and
the report go to a temporary directory, not to bench/results/ or docs/, and no process
the benchmarks started is left running afterwards."""
import json
import os
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def processes_with(marker):
    """pids of live processes whose environment holds marker (every process the
    benchmarks start inherits BENCH_RUN_ID)."""
    found = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def test_every_benchmark_runs_at_tiny_size(tmp_path):
    run_id = f"bench-smoke-{uuid.uuid4().hex}"
    results, docs = tmp_path / "results", tmp_path / "docs"
    env = dict(os.environ, BENCH_SIZE="tiny", BENCH_RESULTS_DIR=str(results), BENCH_DOCS_DIR=str(docs),
               BENCH_RUN_ID=run_id)
    env.pop("BENCH_REPEATS", None)
    started = time.monotonic()
    run = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "run_all.py")], env=env,
                         capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - started
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout[-3000:]}\n{run.stderr[-6000:]}"

    def result(name):
        path = results / f"{name}.json"
        assert path.exists(), f"{name}.json missing; stderr:\n{run.stderr[-3000:]}"
        data = json.loads(path.read_text())
        if name != "decode":
            assert data["benchmark"] == name and data["size"] == "tiny"
            assert data["machine"]["cores"] and data["machine"]["cpu_model"] and data["machine"]["memory_bytes"]
            assert data["machine"]["nofile"]["hard"] > 0
            for key in ("postgres", "nginx", "libnginx-mod-nchan", "libwebsockets", "libzmq", "relay_git"):
                assert key in data["versions"], key
        return data

    fan = result("fanout")
    assert fan["limits"]["nofile_hard"] > 0 and fan["limits"]["limit_clients"] > 0
    for size in fan["sizes"].values():
        for server in ("relay", "nchan"):
            sat = size["saturation"][server]
            assert sat["joined"] > 0 and sat["deliveries_per_s"] > 0, server
            assert {"saturation_deliveries_per_s", "saturation_basis", "cpu_us_per_delivery"} <= set(sat)
        assert [p["fraction_of_nchan_saturation"] for p in size["fixed"]][:3] == [0.25, 0.5, 0.75]
        for p in size["fixed"]:
            for server in ("relay", "nchan"):
                assert {"p50_ms", "p99_ms", "p999_ms", "cpu_us_per_delivery", "foreign_util", "runs"} <= set(p[server])
                assert p[server]["runs"][0]["tries"], server
    assert {"cpu_per_delivery_at_most_half_of_nchan", "saturation_at_least_1_5x_nchan",
            "p99_no_worse_at_every_fixed_load"} <= set(fan["targets"])

    idle = result("idle")
    for size in idle["sizes"].values():
        for server in ("relay", "nchan"):
            assert size[server]["joined"] > 0 and size[server]["bytes_per_connection"] is not None
    assert "memory_per_idle_connection_at_most_nchan" in idle["targets"]

    storm = result("storm")
    for server in ("relay", "nchan"):
        assert storm["servers"][server]["joined"] > 0 and storm["servers"][server]["joins_per_second"] > 0

    prv = result("private")
    for kind in ("public", "private"):
        assert prv["storm"][kind]["joined"] > 0 and prv["storm"][kind]["failed"] == 0, kind
    assert prv["db_broadcast"]["delivered"] == prv["db_broadcast"]["expected"] > 0

    dec = result("decode")
    assert set(dec["results"]) >= {"pg_realtime_0_subs", "pg_realtime_10000_subs", "wal2json", "test_decoding"}
    assert "pg_realtime_10k_at_least_wal2json" in dec["targets"]

    chg = result("changes")
    for nodes in ("1", "3"):
        for run_name in ("latency_at_1000_per_s", "throughput"):
            r = chg["nodes"][nodes][run_name]
            assert r["records"] > 0, (nodes, run_name)
            assert {"p50_ms", "p99_ms", "p999_ms", "records_expected", "expect_met"} <= set(r)
        assert "delivered_changes_per_s" in chg["nodes"][nodes]["throughput"]
    assert "commit_to_client_p99_under_10ms_at_1000_per_s" in chg["targets"]

    clu = result("cluster")
    assert clu["latency"]["local"]["deliveries_per_s"] > 0 and clu["latency"]["cross_node"]["deliveries_per_s"] > 0
    assert "hop_p50_ms" in clu["latency"]
    assert clu["throughput"]["three_nodes"]["deliveries_per_s"] > 0
    for how in ("sigkill", "sigstop"):
        runs = clu["failover"][how]["runs"]
        assert runs and runs[0]["failover_s"] is not None, how
    assert {"cross_node_hop_under_1ms_at_p50", "failover_under_3s"} <= set(clu["targets"])

    mesh = result("mesh")
    for kind in ("plain", "curve"):
        assert mesh["curve"][kind]["cross_node"]["deliveries_per_s"] > 0 and "hop_p50_ms" in mesh["curve"][kind]
    for nodes in ("one_node", "three_nodes"):
        assert mesh["handover"][nodes]["expect_met"] and mesh["handover"][nodes]["holder_cpu_us_per_change"] > 0
    assert mesh["handover"]["three_nodes"]["acks"] > 0

    page = (docs / "benchmarks.md").read_text()
    for heading in ("## Targets", "## Method", "## Fan-out", "## Connections", "## Postgres changes", "## Cluster",
                    "## The mesh"):
        assert heading in page, heading
    images = sorted(p.name for p in (docs / "img").glob("*.png"))
    assert len(images) >= 6, images
    for name in images:
        assert f"img/{name}" in page, name

    # Nothing the benchmarks started is still running (processes that end get a moment).
    deadline = time.monotonic() + 10
    while processes_with(run_id) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(run_id) == [], "processes left running by the benchmarks"
    print(f"\nbenchmark suite at tiny size: {elapsed:.0f} s")
