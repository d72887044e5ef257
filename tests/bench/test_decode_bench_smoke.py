"""Smoke test of the decoding benchmark (bench/decode_bench.py): it runs end to end at a
tiny size and writes its JSON with every variant. It never asserts a speed."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VARIANTS = {"pg_realtime_0_subs", "pg_realtime_1000_subs", "pg_realtime_10000_subs",
            "pg_realtime_users_filters", "pg_realtime_users_rls", "wal2json", "test_decoding"}


def test_decode_bench_writes_every_variant(tmp_path):
    output = tmp_path / "decode.json"
    env = dict(os.environ, BENCH_SIZE="2000", BENCH_REPEATS="1")
    run = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "decode_bench.py"),
                          "--output", str(output)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(output.read_text())

    assert set(report["results"]) == VARIANTS
    assert report["rows"] == 2000
    for variant, result in report["results"].items():
        assert result["rows_per_second"] > 0, variant
        assert result["documents"] > 0 or variant == "pg_realtime_0_subs", variant
    # The same rows match with 1 000 and 10 000 subscriptions (most of those on
    # values no row has), and nothing without subscriptions.
    results = report["results"]
    assert results["pg_realtime_0_subs"]["documents"] == 0
    assert results["pg_realtime_1000_subs"]["documents"] == results["pg_realtime_10000_subs"]["documents"]
    assert "session_start_seconds" in results["pg_realtime_10000_subs"]
    # Row level security: the policy auth.uid() = user_id reaches the same rows as the
    # same users' filters.
    assert results["pg_realtime_users_rls"]["documents"] == results["pg_realtime_users_filters"]["documents"] > 0
    assert "session_start_seconds" in results["pg_realtime_users_rls"]
    for key in ("cores", "cpu_model", "memory_bytes"):
        assert report["machine"][key], key
    assert report["versions"]["postgres"]
    assert set(report["targets"]) >= {"pg_realtime_10k_at_least_wal2json",
                                      "cost_of_10k_subscriptions_at_most_10_percent",
                                      "rls_10k_users_within_15_percent_of_filters"}
    assert "pg_realtime_10000_subs" in run.stdout
