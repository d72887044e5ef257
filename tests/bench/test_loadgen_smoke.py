"""Smoke tests of the load generator (bench/loadgen, build/rt-loadgen) against nginx+nchan,
the peer server of the benchmarks (bench/peers/nchan.py). They prove the harness works
end to end at a tiny size; they never assert a speed.

Phoenix mode is tested against a scripted Phoenix server written here (python3-websockets:
joins, heartbeats, text and binary kind 3/4 broadcasts, postgres_changes for
latency-watch, fragmented frames, server pings), and against build/realtime-relay when it
is built (started by tests/conftest.py's relay_factory when present, without a database:
broadcast needs none); otherwise that is skipped.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))

import nchan  # noqa: E402

LOADGEN = os.path.join(ROOT, "build", "rt-loadgen")
RELAY = os.path.join(ROOT, "build", "realtime-relay")

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
    if not nchan.available():
        pytest.skip("nginx + libnginx-mod-nchan not installed")
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
        "--clients", "100", "--channels", "10", "--source-addrs", "127.0.0.20-127.0.0.21"])
    assert proc.returncode == 0, proc.stderr
    assert r["connections"]["joined"] == 100
    assert r["config"]["source_addrs"] == "127.0.0.20,127.0.0.21"
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


# ---- phoenix mode against a scripted Phoenix server -----------------------------------

class FakePhoenix:
    """A tiny Supabase-Realtime-shaped server (python3-websockets) that answers joins and
    heartbeats, relays broadcasts (text, and binary kind 3 -> kind 4 for vsn 2.0.0
    members) and, for joins with postgres_changes bindings, echoes the bindings with ids,
    sends "Subscribed to PostgreSQL", then pushes `records` postgres_changes messages
    (every other one fragmented). It checks the client's side of the protocol."""

    def __init__(self, records=5):
        import asyncio
        self.records = records
        self.port = None
        self.members = {}  # topic -> set of (ws, vsn)
        self.queries = []
        self.errors = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(10)

    def _run(self):
        import asyncio
        import websockets

        async def main():
            self.stop_event = asyncio.Event()
            async with websockets.serve(self.handler, "127.0.0.1", 0, ping_interval=0.2,
                                        max_size=None) as server:
                self.port = server.sockets[0].getsockname()[1]
                self.ready.set()
                await self.stop_event.wait()
        self.loop.run_until_complete(main())

    @staticmethod
    def encode(vsn, join_ref, ref, topic, event, payload):
        if vsn == "2.0.0":
            return json.dumps([join_ref, ref, topic, event, payload])
        return json.dumps({"topic": topic, "event": event, "payload": payload, "ref": ref})

    async def handler(self, ws, path=None):
        from urllib.parse import parse_qs, urlparse
        query = parse_qs(urlparse(path or ws.path).query)
        self.queries.append(query)
        vsn = query.get("vsn", ["1.0.0"])[0]
        joined = set()
        import websockets
        try:
            async for frame in ws:
                await self.on_frame(ws, vsn, frame, joined)
        except websockets.ConnectionClosed:
            pass  # the load generator ends its connections when it is done
        except Exception as exc:  # a test failure, reported by the test
            self.errors.append(repr(exc))
        finally:
            for topic in joined:
                self.members.get(topic, set()).discard((ws, vsn))

    async def on_frame(self, ws, vsn, frame, joined):
        if isinstance(frame, bytes):
            assert frame[0] == 3, "binary push must be kind 3"
            jl, rl, tl, el, ml, enc = frame[1:7]
            pos = 7 + jl + rl
            topic = frame[pos:pos + tl].decode()
            event = frame[pos + tl:pos + tl + el].decode()
            payload = frame[pos + tl + el + ml:]
            assert enc == 1
            await self.fan_out(ws, topic, event, json.loads(payload))
            return
        msg = json.loads(frame)
        if vsn == "2.0.0":
            join_ref, ref, topic, event, payload = msg
        else:
            join_ref, ref, topic, event, payload = (msg.get("join_ref"), msg["ref"], msg["topic"],
                                                   msg["event"], msg["payload"])
        if event == "heartbeat":
            assert topic == "phoenix"
            await ws.send(self.encode(vsn, None, ref, "phoenix", "phx_reply", {"status": "ok", "response": {}}))
        elif event == "phx_join":
            cfg = payload["config"]
            assert cfg["broadcast"]["self"] is False and cfg["presence"]["enabled"] is False
            bindings = [dict(b, id=100 + i) for i, b in enumerate(cfg.get("postgres_changes", []))]
            joined.add(topic)
            self.members.setdefault(topic, set()).add((ws, vsn))
            await ws.send(self.encode(vsn, join_ref, ref, topic, "phx_reply",
                                      {"status": "ok", "response": {"postgres_changes": bindings}}))
            if bindings:
                await self.push_changes(ws, vsn, topic, [b["id"] for b in bindings])
        elif event == "broadcast":
            await self.fan_out(ws, topic, payload["event"], payload["payload"])

    async def push_changes(self, ws, vsn, topic, ids):
        await ws.send(self.encode(vsn, None, None, topic, "system", {
            "extension": "postgres_changes", "status": "ok",
            "message": "Subscribed to PostgreSQL", "channel": topic.split(":", 1)[1]}))
        for i in range(self.records):
            now = time.time()
            record = {"id": i, "ts": int(now * 1e6), "title": "x" * 100,
                      "ts_text": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
                      + ".%06d+00" % int((now % 1) * 1e6)}
            text = self.encode(vsn, None, None, topic, "postgres_changes", {"ids": ids, "data": {
                "schema": "public", "table": "t", "commit_timestamp": "2026-11-27T21:03:29.683Z",
                "type": "INSERT", "columns": [{"name": "id", "type": "int8"}], "record": record,
                "errors": None}})
            if i % 2:
                await ws.send(iter([text[:10], text[10:40], text[40:]]))  # fragmented
            else:
                await ws.send(text)

    async def fan_out(self, sender, topic, event, payload):
        for ws, vsn in list(self.members.get(topic, ())):
            if ws is sender:
                continue
            if vsn == "2.0.0":
                t, e, body = topic.encode(), event.encode(), json.dumps(payload).encode()
                frame = bytes([4, len(t), len(e), 0, 1]) + t + e + body
            else:
                frame = self.encode(vsn, None, None, topic, "broadcast",
                                    {"type": "broadcast", "event": event, "payload": payload})
            try:
                await ws.send(frame)
            except Exception:
                pass


@pytest.mark.parametrize("vsn,ts_field", [("1.0.0", "ts"), ("2.0.0", "ts"), ("2.0.0", "ts_text")])
def test_latency_watch_against_scripted_phoenix(loadgen, vsn, ts_field):
    with FakePhoenix(records=5) as srv:
        proc, r = run_loadgen(loadgen, [
            "latency-watch", "--target", f"127.0.0.1:{srv.port}", "--jwt-secret", "s", "--vsn", vsn,
            "--clients", "3", "--channel", "room1", "--pg-changes",
            '[{"event":"INSERT","schema":"public","table":"t"}]',
            "--ts-field", ts_field, "--print-ids", "--expect", "5", "--duration", "20"])
        assert not srv.errors, srv.errors
    assert proc.returncode == 0, proc.stderr
    assert r["watch"]["subscribed"] == 3
    assert r["watch"]["expect_met"] is True and r["watch"]["watched_s"] < 15
    assert r["watch"]["records"] == 15 and r["watch"]["types"] == {"INSERT": 15}
    assert r["latency_us"]["count"] == 15
    assert 0 <= r["latency_us"]["p50"] < 5e6  # the timestamp was read right (epoch us or text)
    assert r["ids"] == [["0", "1", "2", "3", "4"]] * 3
    assert all(q["vsn"] == [vsn] and q["apikey"][0].count(".") == 2 for q in srv.queries)


@pytest.mark.parametrize("extra", [["--vsn", "1.0.0"], ["--vsn", "2.0.0"], ["--vsn", "2.0.0", "--binary"]])
def test_fanout_phoenix_against_scripted_phoenix(loadgen, extra):
    with FakePhoenix() as srv:
        proc, r = run_loadgen(loadgen, [
            "fanout", "--target", f"127.0.0.1:{srv.port}", "--token", "a.b.c", "--clients", "10",
            "--channels", "2", "--rate", "100", "--duration", "1", "--warmup", "0.3",
            "--heartbeat", "0.1"] + extra)
        assert not srv.errors, srv.errors
    assert proc.returncode == 0, proc.stderr
    assert r["connections"]["joined"] == 10
    assert r["deliveries"]["received"] > 0
    assert r["deliveries"]["undecodable"] == 0
    assert r["errors"] == {}


def relay_usable():
    return os.path.exists(RELAY) and os.access(RELAY, os.X_OK)


RELAY_ARGS = ["--max-events-per-second", "100000", "--log-level", "warn"]


@pytest.fixture
def bench_relay(request):
    """(pid, port, jwt secret) of a build/realtime-relay without a database (broadcast
    needs none). Uses the shared `relay_factory` fixture of tests/conftest.py when it
    exists; otherwise starts the relay here and skips if it cannot start."""
    if not relay_usable():
        pytest.skip("build/realtime-relay not built")
    try:
        factory = request.getfixturevalue("relay_factory")
    except pytest.FixtureLookupError:
        factory = None
    if factory is not None:
        r = factory(args=RELAY_ARGS)
        yield r.proc.pid, r.port, r.secret  # relay_factory stops it
        return
    yield from _own_relay()


def _own_relay():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    secret = "loadgen-smoke-secret-with-at-least-32-characters"
    log = open(os.path.join(ROOT, "build", f"relay-loadgen-smoke-{port}.log"), "w+")
    proc = subprocess.Popen([RELAY, "--listen", f"127.0.0.1:{port}", "--jwt-secret", secret] + RELAY_ARGS,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    c.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if c.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            log.seek(0)
            pytest.skip(f"realtime-relay did not start without a database: {log.read()[-500:]}")
        yield proc.pid, port, secret
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        os.unlink(log.name)
    assert not process_alive(proc.pid)


@pytest.mark.parametrize("extra", [["--vsn", "1.0.0"], ["--vsn", "2.0.0", "--binary"],
                                   ["--vsn", "2.0.0", "--publish-via", "http"]])
def test_fanout_phoenix_against_relay(loadgen, bench_relay, extra):
    pid, port, secret = bench_relay
    out, r = run_loadgen(loadgen, [
        "fanout", "--target", f"127.0.0.1:{port}", "--jwt-secret", secret, "--clients", "50",
        "--channels", "5", "--rate", "100", "--duration", "2", "--warmup", "0.5",
        "--server-pid", str(pid)] + extra)
    assert out.returncode == 0, out.stderr
    assert r["protocol"] == "phoenix"
    assert r["connections"]["joined"] == 50
    assert r["deliveries"]["received"] > 0
    assert r["deliveries"]["undecodable"] == 0
