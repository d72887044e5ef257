"""Smoke test of the resume benchmark (bench/resume_bench.py): it runs end to end at the
tiny size and writes its JSON. It never asserts a speed, only that every client adopted
its parked subscription and got every change it missed."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_resume_bench_recovers_every_missed_change(tmp_path):
    env = dict(os.environ, BENCH_SIZE="tiny", BENCH_RESULTS_DIR=str(tmp_path))
    run = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "resume_bench.py")],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    r = json.loads((tmp_path / "resume.json").read_text())["results"]
    assert r["recovered_changes"] == r["clients"] * r["missed_each"]
    assert r["last_recovered_s"] >= r["last_reply_s"] > 0
    assert r["kept_bytes_per_parked"] > 0
