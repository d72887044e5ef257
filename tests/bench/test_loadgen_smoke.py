"""Smoke tests of the load generator (bench/loadgen, build/rt-loadgen) against nginx+nchan,
the peer server of the benchmarks (bench/peers/nchan.py). They prove the harness works
end to end at a tiny size; they never assert a speed.

A phoenix-mode smoke test against build/realtime-relay runs when the relay binary exists
and answers (it needs no database for broadcast); otherwise it is skipped.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))

import nchan  # noqa: E402

LOADGEN = os.path.join(ROOT, "build", "rt-loadgen")
RELAY = os.path.join(ROOT, "build", "realtime-relay")

pytestmark = pytest.mark.skipif(not nchan.available(), reason="nginx + libnginx-mod-nchan not installed")


@pytest.fixture(scope="module")
def loadgen():
    if not os.path.exists(LOADGEN):
        subprocess.run(["cmake", "-S", ROOT, "-B", os.path.join(ROOT, "build")], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", os.path.join(ROOT, "build"), "--target", "rt-loadgen"],
                       check=True, stdout=subprocess.DEVNULL)
    return LOADGEN


@pytest.fixture
def nchan_server():
    srv = nchan.NchanServer().start()
    pid = srv.pid
    yield srv
    srv.stop()
    assert not process_alive(pid), "nginx still running after stop"


def process_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except FileNotFoundError:
        return False


def run_loadgen(binary, args, timeout=60):
    proc = subprocess.run([binary] + args, capture_output=True, text=True, timeout=timeout)
    assert proc.stdout.strip(), f"no JSON on stdout; stderr:\n{proc.stderr}"
    result = json.loads(proc.stdout)
    return proc, result


def test_fanout_against_nchan_delivers(loadgen, nchan_server):
    proc, r = run_loadgen(loadgen, [
        "fanout", "--protocol", "nchan", "--target", f"127.0.0.1:{nchan_server.port}",
        "--clients", "50", "--channels", "5", "--rate", "200", "--duration", "2", "--warmup", "0.5",
        "--server-pid", str(nchan_server.pid)])
    assert proc.returncode == 0, proc.stderr
    assert r["scenario"] == "fanout" and r["protocol"] == "nchan"
    assert r["connections"]["joined"] == 50
    assert r["publish"]["sent"] > 0
    assert r["deliveries"]["received"] > 0
    assert r["deliveries"]["expected"] >= r["deliveries"]["received"]
    assert r["latency_us"]["count"] == r["deliveries"]["received"]
    assert r["server"] is not None and r["server"]["cpu_s"] >= 0
    assert r["ok"] is True
    assert "== fanout" in proc.stderr  # the human table


def test_fanout_max_rate_fragment_sized_payloads(loadgen, nchan_server):
    """--rate 0 (saturation mode) with payloads larger than one read."""
    proc, r = run_loadgen(loadgen, [
        "fanout", "--protocol", "nchan", "--target", f"127.0.0.1:{nchan_server.port}",
        "--clients", "20", "--channels", "2", "--rate", "0", "--max-outstanding", "200",
        "--payload-size", "300000", "--duration", "1", "--warmup", "0.2"])
    assert proc.returncode == 0, proc.stderr
    assert r["deliveries"]["received"] > 0
    assert r["deliveries"]["undecodable"] == 0


def test_idle_and_storm_against_nchan(loadgen, nchan_server):
    proc, r = run_loadgen(loadgen, [
        "idle", "--protocol", "nchan", "--target", f"127.0.0.1:{nchan_server.port}",
        "--clients", "40", "--channels", "4", "--duration", "1", "--heartbeat", "0.2",
        "--server-pid", str(nchan_server.pid)])
    assert proc.returncode == 0, proc.stderr
    assert r["connections"]["joined"] == 40
    assert r["idle"]["heartbeat_replies"] > 0  # nchan answers WebSocket pings
    assert r["server"]["rss_end_kb"] > 0

    proc, r = run_loadgen(loadgen, [
        "storm", "--protocol", "nchan", "--target", f"127.0.0.1:{nchan_server.port}",
        "--clients", "100", "--channels", "10"])
    assert proc.returncode == 0, proc.stderr
    assert r["connections"]["joined"] == 100
    assert r["storm"]["joins_per_second"] > 0


def test_connection_failures_are_counted_not_fatal(loadgen):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, r = run_loadgen(loadgen, [
        "storm", "--protocol", "nchan", "--target", f"127.0.0.1:{port}", "--clients", "10"])
    assert proc.returncode == 3  # nobody joined; the JSON is still there
    assert r["connections"]["connect_errors"] == 10
    assert r["ok"] is False


def test_sigterm_ends_the_run_with_a_result(loadgen, nchan_server, tmp_path):
    ready = tmp_path / "ready"
    proc = subprocess.Popen([
        loadgen, "fanout", "--protocol", "nchan", "--target", f"127.0.0.1:{nchan_server.port}",
        "--clients", "20", "--channels", "2", "--rate", "100", "--duration", "120",
        "--ready-file", str(ready)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert ready.exists(), "loadgen never got ready"
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    r = json.loads(out)
    assert r["interrupted"] is True
    assert r["connections"]["joined"] == 20


def relay_usable():
    return os.path.exists(RELAY) and os.access(RELAY, os.X_OK)


@pytest.mark.skipif(not relay_usable(), reason="build/realtime-relay not built")
def test_fanout_phoenix_against_relay(loadgen):
    pytest.skip("phoenix smoke test needs a relay fixture from tests/support (not available yet)")
