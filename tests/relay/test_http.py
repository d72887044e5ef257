"""The HTTP API on the relay's port: POST /api/broadcast, GET /api/health, GET /metrics."""
import json
import os
import socket
import time

import pytest

from support.jwt import make_token
from support.pg import wait_until
from support.phoenix import PhoenixClient, run, unique_topic


def post_broadcast(relay, body, headers):
    raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return relay.http("/api/broadcast", "POST", raw.encode() if isinstance(raw, str) else raw,
                      {"Content-Type": "application/json", **headers})


def test_http_broadcast_reaches_both_versions(relay):
    async def body():
        v1 = await PhoenixClient.open(relay, "1.0.0")
        v2 = await PhoenixClient.open(relay, "2.0.0")
        topic = unique_topic("http")
        name = topic[len("realtime:"):]
        other = unique_topic("http")
        await v1.join(topic)
        await v2.join(topic)
        await v2.join(other)
        status, resp = relay.broadcast_http([
            {"topic": name, "event": "first", "payload": {"n": 1}, "private": False},
            {"topic": other, "event": "second", "payload": {"n": 2}},  # with the prefix too
        ])
        assert status == 202 and resp is None  # 202 with an empty body
        for c in (v1, v2):
            msg = await c.expect_event(topic, "broadcast")
            p = msg["payload"]
            # No "meta": as in Supabase, only a message with an "id" has one.
            assert p == {"type": "broadcast", "event": "first", "payload": {"n": 1}}
        assert (await v2.expect_event(other, "broadcast"))["payload"]["event"] == "second"
        await v1.assert_silent(0.2, lambda m: m["event"] == "broadcast")
        await v1.close()
        await v2.close()
    run(body())


def test_http_broadcast_apikey_header_and_private(relay):
    async def body():
        c = await PhoenixClient.open(relay, "2.0.0")
        topic = unique_topic("http")
        name = topic[len("realtime:"):]
        await c.join(topic)
        status, _ = post_broadcast(relay, {"messages": [{"topic": name, "event": "secret", "payload": {},
                                                         "private": True}]},
                                   {"apikey": relay.token()})
        assert status == 202
        status, _ = post_broadcast(relay, {"messages": [{"topic": name, "event": "by-apikey", "payload": {}}]},
                                   {"apikey": relay.token()})
        assert status == 202
        msg = await c.expect_event(topic, "broadcast")
        # The private message is for private channels only: it did not reach this one.
        assert msg["payload"]["event"] == "by-apikey"
        await c.close()
    run(body())


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer not-a-token"},
    {"Authorization": "Bearer " + make_token("another-secret-another-secret-another")},
    {"apikey": make_token(exp_in=-5)},
    {"Authorization": "Basic dXNlcjpwYXNz"},
], ids=["none", "malformed", "forged", "expired", "basic"])
def test_http_broadcast_unauthorized(relay, headers):
    async def body():
        c = await PhoenixClient.open(relay, "2.0.0")
        topic = unique_topic("http")
        await c.join(topic)
        status, resp = post_broadcast(relay, {"messages": [{"topic": topic, "event": "e", "payload": {}}]}, headers)
        assert status == 401 and resp == {"message": "Unauthorized"}
        await c.assert_silent(0.2, lambda m: m["event"] == "broadcast")
        await c.close()
    run(body())


@pytest.mark.parametrize("raw,errors", [
    ("[]", {"messages": ["can't be blank"]}),
    ({"msgs": []}, {"messages": ["can't be blank"]}),
    ({"messages": []}, {"messages": ["can't be blank"]}),
    ({"messages": "hello"}, {"messages": ["is invalid"]}),
    ({"messages": [{"event": "e", "payload": {}}]}, {"messages": [{"topic": ["can't be blank"]}]}),
    ({"messages": [{"topic": "room", "payload": {}}]}, {"messages": [{"event": ["can't be blank"]}]}),
    ({"messages": [{"topic": "", "event": "e"}]}, {"messages": [{"topic": ["can't be blank"],
                                                                  "payload": ["can't be blank"]}]}),
    ({"messages": [{"topic": 5, "event": "e", "payload": {}, "private": "maybe", "id": "x"}]},
     {"messages": [{"topic": ["is invalid"], "private": ["is invalid"], "id": ["is invalid"]}]}),
], ids=["array", "no-messages", "empty", "not-a-list", "no-topic", "no-event", "empty-topic", "bad-types"])
def test_http_broadcast_bad_body(relay, raw, errors):
    """Supabase's 422: each message's field errors as its changeset names them."""
    status, resp = post_broadcast(relay, raw, {"Authorization": f"Bearer {relay.token()}"})
    assert (status, resp) == (422, {"errors": errors})


def test_http_broadcast_malformed_json(relay):
    status, resp = post_broadcast(relay, "{not json", {"Authorization": f"Bearer {relay.token()}"})
    assert status == 422 and resp["message"].startswith("malformed JSON")


def test_http_broadcast_bad_message_rejects_whole_batch(relay):
    async def body():
        c = await PhoenixClient.open(relay, "2.0.0")
        topic = unique_topic("http")
        await c.join(topic)
        status, _ = post_broadcast(relay, {"messages": [{"topic": topic, "event": "good", "payload": {}},
                                                        {"topic": topic}]},
                                   {"Authorization": f"Bearer {relay.token()}"})
        assert status == 422
        await c.assert_silent(0.3, lambda m: m["event"] == "broadcast")
        await c.close()
    run(body())


def test_http_body_too_large(relay_factory):
    """A body over --max-frame-bytes is 413; a message payload over --max-payload-bytes
    within it is that message's 422 error."""
    relay = relay_factory(args=["--max-frame-bytes", "8192", "--max-payload-bytes", "4096"])
    auth = {"Authorization": f"Bearer {relay.token()}"}
    big = {"messages": [{"topic": "room", "event": "e", "payload": {"x": "y" * 9000}}]}
    status, resp = post_broadcast(relay, big, auth)
    assert status == 413
    over = {"messages": [{"topic": "room", "event": "e", "payload": {"x": "y" * 5000}}]}
    status, resp = post_broadcast(relay, over, auth)
    assert (status, resp) == (422, {"errors": {"messages": [{"payload": ["Payload size exceeds tenant limit"]}]}})
    status, _ = relay.broadcast_http([{"topic": "room", "event": "e", "payload": {"x": 1}}])
    assert status == 202


def test_http_other_paths(relay):
    assert relay.http("/api/broadcast")[0] == 405
    status, body = relay.http("/nope")
    assert status == 404
    status, _ = relay.http("/api/broadcast", "OPTIONS")
    assert status == 204


def test_health(relay):
    h = relay.health()
    assert h["node_id"] == relay.node_id
    assert h["slot_holder"] is False  # no database
    assert isinstance(h["peers"], list)
    assert h["connections"] == 0

    async def body():
        c = await PhoenixClient.open(relay, "2.0.0")
        await c.join(unique_topic())
        h = relay.health()
        assert h["connections"] == 1 and h["channels"] == 1
        await c.close()
        wait_until(lambda: relay.health()["connections"] == 0, timeout=10, what="the connection to go")
    run(body())


def test_health_with_database(pg_relay):
    h = pg_relay.health()
    assert h["node_id"] == pg_relay.node_id and h["slot_holder"] is True


def test_metrics_counters_change(relay):
    def m():
        return relay.metrics()

    before = m()
    for name in ("realtime_connections", "realtime_channels", "realtime_messages_in_total",
                 "realtime_messages_out_total", "realtime_bytes_in_total", "realtime_bytes_out_total",
                 "realtime_broadcasts_total", "realtime_protocol_errors_total", "realtime_connections_refused_total",
                 "realtime_rate_limited_total", "realtime_slow_client_disconnects_total",
                 "realtime_dropped_messages_total", "realtime_slot_lag_bytes", "realtime_presence_entries",
                 "realtime_decode_to_send_seconds_count"):
        assert name in before, name
    _, text = relay.http("/metrics")
    assert "# TYPE realtime_messages_in_total counter" in text
    assert "# TYPE realtime_connections gauge" in text

    async def body():
        a = await PhoenixClient.open(relay, "2.0.0")
        b = await PhoenixClient.open(relay, "1.0.0")
        topic = unique_topic()
        await a.join(topic, {"broadcast": {"self": False}, "presence": {"enabled": True, "key": "a"}})
        await b.join(topic)
        await a.track(topic, {"x": 1})
        for i in range(5):
            await a.broadcast(topic, "e", {"i": i})
        for i in range(5):
            await b.expect_event(topic, "broadcast")
        during = m()
        assert during["realtime_connections"] == before["realtime_connections"] + 2
        assert during["realtime_channels"] == before["realtime_channels"] + 1
        assert during["realtime_presence_entries"] == 1
        assert during["realtime_broadcasts_total"] >= before["realtime_broadcasts_total"] + 5
        assert during["realtime_messages_in_total"] >= before["realtime_messages_in_total"] + 8
        assert during["realtime_messages_out_total"] >= before["realtime_messages_out_total"] + 9
        assert during["realtime_bytes_in_total"] > before["realtime_bytes_in_total"]
        assert during["realtime_bytes_out_total"] > before["realtime_bytes_out_total"]
        await a.send_raw("{oops")
        await a.expect_event("phoenix", "phx_error")
        assert m()["realtime_protocol_errors_total"] == before["realtime_protocol_errors_total"] + 1
        relay.upgrade("apikey=forged")
        assert m()["realtime_connections_refused_total"] == before["realtime_connections_refused_total"] + 1
        await a.close()
        await b.close()
        wait_until(lambda: m()["realtime_connections"] == before["realtime_connections"], timeout=10,
                   what="the connections gauge to go down")
        assert m()["realtime_presence_entries"] == 0 and m()["realtime_channels"] == 0
    run(body())


def test_metrics_of_postgres_changes(db, client_roles, pg_relay):
    db.execute("CREATE TABLE t (id serial PRIMARY KEY); GRANT SELECT ON t TO anon")

    async def body():
        c = await PhoenixClient.open(pg_relay, "2.0.0")
        topic = unique_topic()
        reply = await c.join(topic, {"postgres_changes": [{"event": "*", "schema": "public", "table": "t"}]})
        assert reply["status"] == "ok"
        await c.expect_event(topic, "system")
        before = pg_relay.metrics()
        assert before["realtime_slot_holder"] == 1 and before["realtime_subscriptions"] == 1
        for _ in range(3):
            db.execute("INSERT INTO t DEFAULT VALUES")
        for _ in range(3):
            await c.expect_event(topic, "postgres_changes")
        after = pg_relay.metrics()
        assert after["realtime_changes_received_total"] >= before["realtime_changes_received_total"] + 3
        assert after["realtime_changes_delivered_total"] == before["realtime_changes_delivered_total"] + 3
        assert after["realtime_decode_to_send_seconds_count"] >= before["realtime_decode_to_send_seconds_count"] + 3
        await c.close()
    run(body())


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_pipelined_posts_never_leave_the_server_spinning(relay):
    """lws 4.1 cannot parse a POST pipelined behind another POST's body: the relay answers
    the first and closes the connection, and must not busy-loop on the leftover bytes."""
    body = json.dumps({"messages": [{"topic": "pipe", "event": "e", "payload": {"n": 1}}]}).encode()
    request = (f"POST /api/broadcast HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {relay.token()}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", relay.port), timeout=10) as s:
        s.sendall(request * 3)
        received = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            received += chunk
    assert received.startswith(b"HTTP/1.1 202")
    before = cpu_seconds(relay.proc.pid)
    time.sleep(1.0)
    assert cpu_seconds(relay.proc.pid) - before < 0.3, "the relay is busy with nothing to do"
    assert relay.health()["status"] == "ok"
