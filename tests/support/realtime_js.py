"""Runs a Node scenario script that drives @supabase/realtime-js (from tests/js's
node_modules, see tests/js/harness.mjs) and returns its summary.

Protocol between this driver and a scenario: the script prints JSON lines on stdout.
{"step": NAME, "sql": [...]} asks the driver to run those statements (each in its own
transaction), then the action registered for NAME if any, and then to answer NAME on
stdin; the last line is the summary {"scenario": ..., "ok": true, ...}. Exit code 0
means every assertion in the script held.
"""
import json
import os
import queue
import shutil
import subprocess
import threading
import time

import pytest

JS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "js")
NODE_MODULES = os.path.join(JS_DIR, "node_modules")
SCENARIO_DEADLINE_S = 30


def require_node():
    """Fails the test (never skips it) when node or tests/js/node_modules is missing."""
    if not shutil.which("node"):
        pytest.fail("node is not installed (scripts/install-deps.sh installs it)")
    for need in ("@supabase/realtime-js", "ws"):
        if not os.path.isdir(os.path.join(NODE_MODULES, need)):
            pytest.fail("tests/js/node_modules is missing: run `npm ci` in tests/js (or `make test-js`)")


def endpoint(relay, path="/socket"):
    """realtime-js takes the socket path without /websocket and appends it itself:
    /socket (self-hosted) or /realtime/v1 (Supabase's hosted layout, as supabase-js builds it)."""
    return f"ws://127.0.0.1:{relay.port}{path}"


def run_scenario(script, relay, env=None, db=None, deadline_s=SCENARIO_DEADLINE_S, actions=None):
    """Runs the Node script (a path, or a name in tests/js) against relay; returns its
    summary, or fails the test with the script's output. actions maps step names to
    callables the driver runs (after the step's SQL) before answering the step."""
    script = script if os.path.isabs(script) else os.path.join(JS_DIR, script)
    full_env = dict(os.environ)
    full_env.update({
        "RT_ENDPOINT": endpoint(relay),
        "RT_TOKEN": relay.token(),
        "RT_DEADLINE_MS": str(deadline_s * 1000),
    })
    full_env.update(env or {})
    proc = subprocess.Popen(["node", script], cwd=JS_DIR, env=full_env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1)
    lines = queue.Queue()
    stderr_chunks = []

    def read_stdout():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def read_stderr():
        stderr_chunks.append(proc.stderr.read())

    readers = [threading.Thread(target=read_stdout, daemon=True), threading.Thread(target=read_stderr, daemon=True)]
    for t in readers:
        t.start()

    stdout_lines, summary, steps = [], None, []
    hard_deadline = time.monotonic() + deadline_s + 15  # the script's own deadline comes first
    try:
        while True:
            remaining = hard_deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{script} gave no summary within {deadline_s + 15}s")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                break
            stdout_lines.append(line)
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "step" in msg:
                steps.append(msg["step"])
                if msg.get("sql"):
                    assert db is not None, f"{script} asked for SQL but the test has no database"
                    for statement in msg["sql"]:
                        db.execute(statement)
                if actions and msg["step"] in actions:
                    actions[msg["step"]]()
                proc.stdin.write(msg["step"] + "\n")
                proc.stdin.flush()
            elif "scenario" in msg:
                summary = msg
        rc = proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for t in readers:
            t.join(timeout=5)
    output = "".join(stdout_lines)
    errors = "".join(stderr_chunks)
    assert rc == 0 and summary and summary.get("ok"), (
        f"node {script} failed (exit {rc}): {summary.get('error') if summary else 'no summary'}\n"
        f"--- stdout ---\n{output[-4000:]}\n--- stderr ---\n{errors[-6000:]}")
    summary["_steps"] = steps
    print(f"{os.path.basename(script)}: {json.dumps(summary)[:2000]}")
    return summary
