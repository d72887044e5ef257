"""Compatibility with @supabase/realtime-js: each test starts what its scenario needs (a
relay, and for Postgres Changes a fresh database), then runs one Node scenario script from
this folder against it with realtime-js from npm (tests/js/package-lock.json).

Protocol between this driver and a scenario (see harness.mjs): the script prints JSON lines
on stdout. {"step": NAME, "sql": [...]} asks the driver to run those statements (each in
its own transaction) and then answer NAME on stdin; the last line is the summary
{"scenario": ..., "ok": true, ...}. Exit code 0 means every assertion in the script held.

Needs `npm ci` in tests/js first (`make test-js` does it).
"""
import json
import os
import queue
import shutil
import subprocess
import threading
import time

import pytest
from support.pg import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(HERE, "node_modules")
SCENARIO_DEADLINE_S = 30
ROLE = "authenticated"


@pytest.fixture(scope="module", autouse=True)
def node_ready():
    if not shutil.which("node"):
        pytest.fail("node is not installed (scripts/install-deps.sh installs it)")
    if not os.path.isdir(os.path.join(NODE_MODULES, "@supabase", "realtime-js")) or \
            not os.path.isdir(os.path.join(NODE_MODULES, "ws")):
        pytest.fail("tests/js/node_modules is missing: run `npm ci` in tests/js (or `make test-js`)")


def endpoint(relay, path="/socket"):
    """realtime-js takes the socket path without /websocket and appends it itself:
    /socket (self-hosted) or /realtime/v1 (Supabase's hosted layout, as supabase-js builds it)."""
    return f"ws://127.0.0.1:{relay.port}{path}"


def run_scenario(script, relay, env=None, db=None, deadline_s=SCENARIO_DEADLINE_S):
    """Runs tests/js/<script> against relay; returns its summary (fails the test otherwise)."""
    full_env = dict(os.environ)
    full_env.update({
        "RT_ENDPOINT": endpoint(relay),
        "RT_TOKEN": relay.token(),
        "RT_DEADLINE_MS": str(deadline_s * 1000),
    })
    full_env.update(env or {})
    proc = subprocess.Popen(["node", os.path.join(HERE, script)], cwd=HERE, env=full_env,
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
    print(f"{script}: {json.dumps(summary)}")
    return summary


def create_role(db):
    db.execute(f"""DO $$ BEGIN CREATE ROLE {ROLE} NOLOGIN;
                   EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$""")


# -- broadcast --------------------------------------------------------------------------

BROADCAST_CASES = [
    # (vsn a, vsn b, self, ack, endpoint path)
    ("default", "default", False, False, "/socket"),
    ("default", "default", True, False, "/socket"),
    ("default", "default", False, True, "/socket"),
    ("default", "default", True, True, "/socket"),
    ("1.0.0", "1.0.0", False, False, "/socket"),
    ("1.0.0", "1.0.0", True, False, "/socket"),
    ("1.0.0", "1.0.0", False, True, "/socket"),
    ("1.0.0", "1.0.0", True, True, "/socket"),
    ("2.0.0", "1.0.0", False, False, "/socket"),
    ("1.0.0", "2.0.0", True, True, "/socket"),
    ("default", "default", False, False, "/realtime/v1"),
    ("1.0.0", "1.0.0", True, True, "/realtime/v1"),
]


@pytest.mark.parametrize("vsn_a,vsn_b,self_,ack,path", BROADCAST_CASES,
                         ids=[f"{a}-{b}-self{int(s)}-ack{int(k)}-{p.strip('/').replace('/', '_')}"
                              for a, b, s, k, p in BROADCAST_CASES])
def test_broadcast(relay_factory, vsn_a, vsn_b, self_, ack, path):
    relay = relay_factory()
    summary = run_scenario("broadcast.mjs", relay, env={
        "RT_ENDPOINT": endpoint(relay, path),
        "RT_VSN_A": vsn_a, "RT_VSN_B": vsn_b, "RT_SELF": str(int(self_)), "RT_ACK": str(int(ack))})
    # realtime-js keeps the socket's query string (apikey, vsn) on the REST URL.
    rest_url = summary["rest_endpoint"].split("?")[0]
    assert rest_url == f"http://127.0.0.1:{relay.port}{path.replace('/socket', '')}/api/broadcast"
    expected = {"a": "2.0.0" if vsn_a == "default" else vsn_a, "b": "2.0.0" if vsn_b == "default" else vsn_b}
    assert summary["vsn"] == expected
    assert summary["self"] is self_ and summary["ack"] is ack
    for name in ("a", "b"):
        assert summary["statuses"][name][0] == "SUBSCRIBED"
        assert not any(s.startswith(("CHANNEL_ERROR", "TIMED_OUT")) for s in summary["statuses"][name])
    if expected == {"a": "2.0.0", "b": "2.0.0"}:
        assert summary["binary_payload_checked"]
        assert 3 in summary["frames"]["a"]["sent_binary_kinds"]
        assert 4 in summary["frames"]["b"]["recv_binary_kinds"]


# -- presence ---------------------------------------------------------------------------

@pytest.mark.parametrize("vsn", ["default", "1.0.0"])
def test_presence(relay_factory, vsn):
    relay = relay_factory()
    summary = run_scenario("presence.mjs", relay, env={"RT_VSN": vsn})
    alice, bob = summary["events"]["alice"], summary["events"]["bob"]
    assert "bob" in alice["joins"] and "alice" in bob["joins"]
    assert alice["sync"] >= 2 and bob["sync"] >= 2
    assert alice["leaves"].count("bob") >= 2  # untrack, then disconnect
    assert summary["statuses"]["alice"] == ["SUBSCRIBED"]


# -- postgres_changes -------------------------------------------------------------------

@pytest.mark.parametrize("vsn", ["default", "1.0.0"])
def test_postgres_changes(relay_factory, db, vsn):
    create_role(db)
    relay = relay_factory(db_dsn=db.dsn)
    token = relay.token(role=ROLE, sub="7b0c1c48-1111-4222-8333-444455556666")
    db.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {ROLE}")
    summary = run_scenario("postgres_changes.mjs", relay, db=db, env={"RT_VSN": vsn, "RT_TOKEN": token})
    assert summary["_steps"] == ["setup", "changes"]
    assert summary["received"] == {"all": 3, "ins": 1, "del": 2}
    assert summary["raw_pushes"] == 4
    assert summary["insert_new"]["tags"] == ["red", "green", "blue"]
    assert summary["insert_new"]["amount"] == 12.345
    assert summary["insert_new"]["flag"] is True
    assert summary["delete_old"]["note"] is None
    assert summary["statuses"] == ["SUBSCRIBED"]
    # realtime-js left the channel (phx_leave) at the end: the relay unsubscribed.
    wait_until(lambda: db.scalar("SELECT count(*) FROM realtime.subscription") == 0, timeout=15,
               what="the relay to remove the subscriptions after the client left")


# -- channel status ---------------------------------------------------------------------

@pytest.mark.parametrize("vsn", ["default", "1.0.0"])
def test_subscribe_status(relay_factory, db, vsn):
    create_role(db)
    relay = relay_factory(db_dsn=db.dsn)
    db.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {ROLE}")
    summary = run_scenario("subscribe_status.mjs", relay, db=db, env={
        "RT_VSN": vsn,
        "RT_TOKEN": relay.token(role=ROLE),
        "RT_TOKEN_2": relay.token(role=ROLE, exp_in=7200),
    })
    assert summary["statuses"] == ["SUBSCRIBED", "CLOSED"]
    assert summary["rejoin_statuses"][0] == "SUBSCRIBED"
    assert "Unauthorized" in summary["private_error"]
    assert summary["heartbeats"] >= 3
