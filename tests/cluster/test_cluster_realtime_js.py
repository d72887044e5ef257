"""@supabase/realtime-js across the cluster: a client on one relay and a client on another
exchange broadcasts and see each other's presence (realtime_js_cluster.mjs, run with the
harness and node_modules of tests/js; needs `npm ci` there)."""
import json
import os
import shutil
import subprocess

import pytest

from support.cluster import start_cluster

HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.join(os.path.dirname(HERE), "js")
DEADLINE_S = 45


@pytest.fixture(scope="module", autouse=True)
def node_ready():
    if not shutil.which("node"):
        pytest.fail("node is not installed (scripts/install-deps.sh installs it)")
    for need in ("harness.mjs", "node_modules/@supabase/realtime-js", "node_modules/ws"):
        if not os.path.exists(os.path.join(JS_DIR, need)):
            pytest.fail(f"tests/js/{need} is missing: run `npm ci` in tests/js (or `make test-js`)")


@pytest.mark.parametrize("vsn", ["default", "1.0.0"])
def test_realtime_js_clients_on_two_nodes(relay_factory, vsn):
    cluster = start_cluster(relay_factory, ["a", "b"])
    env = dict(os.environ)
    env.update({
        "RT_ENDPOINT_A": f"ws://127.0.0.1:{cluster['a'].port}/socket",
        "RT_ENDPOINT_B": f"ws://127.0.0.1:{cluster['b'].port}/socket",
        "RT_TOKEN": cluster["a"].token(),
        "RT_VSN": vsn,
        "RT_DEADLINE_MS": str(DEADLINE_S * 1000),
    })
    proc = subprocess.run(["node", os.path.join(HERE, "realtime_js_cluster.mjs")], cwd=JS_DIR, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=DEADLINE_S + 20)
    summary = None
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and "scenario" in msg:
            summary = msg
    assert proc.returncode == 0 and summary and summary["ok"], (
        f"exit {proc.returncode}\n--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-5000:]}")
    assert summary["vsn"] == ("2.0.0" if vsn == "default" else vsn)
    assert summary["statuses"] == {"alice": ["SUBSCRIBED"], "bob": ["SUBSCRIBED"]}
    if vsn == "default":
        # realtime-js 2.0.0 sends user broadcasts as kind 3 and receives kind 4, across nodes too.
        assert summary["frames"]["alice_sent_binary"] > 0 and summary["frames"]["bob_recv_binary"] > 0
