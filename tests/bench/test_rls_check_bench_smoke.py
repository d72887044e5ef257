"""Smoke test of the general-path benchmark (bench/rls_check_bench.py): it runs end to
end at the tiny size and writes its JSON. It never asserts a speed, only that every
variant checked its candidates and agreed on who passes."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_rls_check_bench_writes_every_variant(tmp_path):
    output = tmp_path / "rls_check.json"
    env = dict(os.environ, BENCH_SIZE="tiny")
    run = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "rls_check_bench.py"),
                          "--output", str(output)],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(output.read_text())
    results = report["results"]
    side_by_side = {f"{kind}_{n}_subscribers" for n in (10, 100, 1000)
                    for kind in ("baseline", "set_based_batch_20")}
    assert set(results) == {"set_based_batch_1", "set_based_batch_20", "set_based_batch_100",
                            "per_user_batch_1", "baseline_supabase_method"} | side_by_side
    assert set(report["set_based_batch_20_vs_baseline_by_subscribers"]) == {"10", "100", "1000"}
    for name, r in results.items():
        assert r["changes_per_second"] > 0, name
        assert r.get("errors", 0) == 0, name
    # Each user is a member of 3 of 100 organizations: about 3 % of the pairs pass, and
    # the batches agree with each other.
    set_based = [results[k]["passed"] for k in ("set_based_batch_1", "set_based_batch_20",
                                                "set_based_batch_100")]
    assert len(set(set_based)) == 1 and set_based[0] > 0
    assert report["machine"]["cores"]
