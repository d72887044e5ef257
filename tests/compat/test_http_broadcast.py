"""Broadcast over HTTP, as Supabase's controllers answer it (lib/realtime_web/controllers/
broadcast_controller.ex, broadcast_single_controller.ex, lib/realtime/tenants/
batch_broadcast.ex, single_broadcast.ex, plugs/auth_tenant.ex, plugs/
validate_broadcast_content_type.ex; their tests): 202 with an empty body, members get
{"event", "payload", "type"} (and "meta": {"id"} only for a message that has an id), a bad
batch is 422 with Ecto's per-message errors and nothing is sent, 401 {"message":
"Unauthorized"}; the single-message endpoint realtime-js httpSend() uses takes JSON or
raw bytes."""
import json
import urllib.parse

import pytest

from support.jwt import make_token
from support.phoenix import run, unique_topic

from .helpers import open_joined, sub_topic


def post(relay, path, body, headers=None, content_type="application/json", token=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    hdrs = {"Authorization": f"Bearer {token or relay.token()}"}
    if content_type:
        hdrs["Content-Type"] = content_type
    hdrs.update(headers or {})
    return relay.http(path, "POST", data, hdrs)


def test_batch_delivers_each_message_once(relay):
    """broadcast_controller_test "returns 202 when batch of messages is broadcasted"."""
    async def body():
        t1, t2 = unique_topic(), unique_topic()
        v1, _ = await open_joined(relay, "1.0.0", topic=t1)
        v2, _ = await open_joined(relay, "2.0.0", topic=t1)
        other, _ = await open_joined(relay, "2.0.0", topic=t2)
        msg = {"topic": sub_topic(t1), "payload": {"data": "data"}, "event": "event_1"}
        status, resp = post(relay, "/api/broadcast", {"messages": [
            msg, msg, {"topic": sub_topic(t2), "payload": {"data": "data"}, "event": "event_2"}]})
        assert (status, resp) == (202, None)
        for c in (v1, v2):
            for _ in range(2):
                got = await c.expect_event(t1, "broadcast")
                assert got["payload"] == {"payload": {"data": "data"}, "event": "event_1", "type": "broadcast"}
                assert (got["ref"], got["join_ref"]) == (None, None)
            await c.assert_silent(0.3, lambda m: m["event"] == "broadcast")
        got = await other.expect_event(t2, "broadcast")
        assert got["payload"] == {"payload": {"data": "data"}, "event": "event_2", "type": "broadcast"}
    run(body())


def test_batch_message_id_becomes_meta(relay):
    """batch_broadcast.ex send_message_and_count/5: "meta": {"id": id} when the message has one."""
    async def body():
        c, topic = await open_joined(relay, "1.0.0")
        status, _ = post(relay, "/api/broadcast", {"messages": [
            {"id": "8b4e6b8f-0f44-4a7f-9f3b-1f1b2d3c4e5f", "topic": sub_topic(topic), "event": "e", "payload": {}}]})
        assert status == 202
        got = await c.expect_event(topic, "broadcast")
        assert got["payload"]["meta"] == {"id": "8b4e6b8f-0f44-4a7f-9f3b-1f1b2d3c4e5f"}
    run(body())


@pytest.mark.parametrize("messages,errors", [
    ([{"topic": "topic"}, {"payload": {"data": "data"}}, {"topic": "topic", "payload": {"data": "data"}, "event": "e"}],
     {"messages": [{"payload": ["can't be blank"], "event": ["can't be blank"]},
                   {"topic": ["can't be blank"], "event": ["can't be blank"]}, {}]}),
    ([{"topic": "topic", "event": "e", "payload": "text"}], {"messages": [{"payload": ["is invalid"]}]}),
    (None, {"messages": ["can't be blank"]}),
    ([], {"messages": ["can't be blank"]}),
], ids=["missing-fields", "payload-not-a-map", "no-messages", "empty-list"])
def test_bad_batch_is_422_with_errors_and_nothing_sent(relay, messages, errors):
    """broadcast_controller_test "returns 422 when batch of messages includes badly formed
    messages"; BatchBroadcast's changeset (messages required, payload a map)."""
    async def body():
        c, topic = await open_joined(relay, "2.0.0", topic="realtime:topic")
        status, resp = post(relay, "/api/broadcast", {} if messages is None else {"messages": messages})
        assert (status, resp) == (422, {"errors": errors})
        await c.assert_silent(0.3, lambda m: m["event"] == "broadcast")
    run(body())


def test_batch_payload_over_the_limit_is_422(relay):
    """broadcast_controller_test "returns 422 when batch of messages includes a message that
    exceeds the tenant payload size" (3000 KB by default)."""
    big = {"data": "x" * 3_100_000}
    status, resp = post(relay, "/api/broadcast", {"messages": [
        {"topic": "t", "event": "e", "payload": {"data": "data"}}, {"topic": "t", "event": "e", "payload": big}]})
    assert status == 422
    assert resp == {"errors": {"messages": [{}, {"payload": ["Payload size exceeds tenant limit"]}]}}


def test_batch_larger_than_the_rate_is_429(relay):
    """broadcast_controller_test "batch will exceed rate limit": a batch that would take the
    events per second past the limit (100 by default) is refused whole."""
    async def body():
        c, topic = await open_joined(relay, "2.0.0")
        batch = [{"topic": sub_topic(topic), "event": "e", "payload": {"i": i}} for i in range(1000)]
        status, resp = post(relay, "/api/broadcast", {"messages": batch})
        assert (status, resp) == (429, {"message": "Too many messages to broadcast, please reduce the batch size"})
        await c.assert_silent(0.5, lambda m: m["event"] == "broadcast")
    run(body())


@pytest.mark.parametrize("headers", [
    {"Authorization": "bearer {token}"},
    {"Authorization": "BEARER {token}"},
    {"Authorization": "", "apikey": "{token}"},
], ids=["lowercase-bearer", "uppercase-bearer", "apikey-header"])
def test_bearer_is_case_insensitive_and_apikey_works(relay, headers):
    """auth_tenant_test "returns non halted and null status if token in authorization header
    is valid and case insensitive", "... in apikey header is valid"."""
    token = relay.token()
    hdrs = {k: v.format(token=token) for k, v in headers.items()}
    hdrs = {k: v for k, v in hdrs.items() if v}
    status, _ = relay.http("/api/broadcast", "POST", json.dumps({"messages": [
        {"topic": "t", "event": "e", "payload": {}}]}).encode(), {"Content-Type": "application/json", **hdrs})
    assert status == 202


def test_expired_or_missing_token_is_401(relay):
    """broadcast_controller_test "expired token returns 401", broadcast_single_controller_test
    "returns 401 when JWT is missing"."""
    body = json.dumps({"messages": [{"topic": "t", "event": "e", "payload": {}}]}).encode()
    for hdrs in ({"apikey": make_token(exp_in=-100)}, {}):
        assert relay.http("/api/broadcast", "POST", body, {"Content-Type": "application/json", **hdrs}) == (
            401, {"message": "Unauthorized"})
        assert relay.http("/api/broadcast/t/events/e", "POST", b"{}", {"Content-Type": "application/json", **hdrs}) == (
            401, {"message": "Unauthorized"})


def single_path(name, event):
    return f"/api/broadcast/{urllib.parse.quote(name, safe='')}/events/{urllib.parse.quote(event, safe='')}"


@pytest.mark.parametrize("name", ["room-{n}", "room:{n}:sub"], ids=["plain", "with-colons"])
def test_single_json_message(relay, name):
    """broadcast_single_controller_test "returns 202 when JSON message is broadcasted",
    "handles topics with colons", "handles empty JSON payload", "handles application/json
    with charset"."""
    async def body():
        topic = "realtime:" + name.format(n=unique_topic()[-8:])
        v1, _ = await open_joined(relay, "1.0.0", topic=topic)
        v2, _ = await open_joined(relay, "2.0.0", topic=topic)
        for payload, ctype in (({"text": "hello world", "user": "alice"}, "application/json"),
                               ({}, "application/json; charset=utf-8")):
            status, resp = post(relay, single_path(sub_topic(topic), "message"), payload, content_type=ctype)
            assert (status, resp) == (202, None)
            for c in (v1, v2):
                got = await c.expect_event(topic, "broadcast")
                assert {k: v for k, v in got["payload"].items() if k != "meta"} == {
                    "event": "message", "payload": payload, "type": "broadcast"}
    run(body())


def test_single_binary_message(relay):
    """broadcast_single_controller_test "returns 202 when binary message is broadcasted",
    "handles empty binary payload": application/octet-stream reaches 2.0.0 members as a
    kind 4 frame with binary encoding; 1.0.0 members cannot receive it."""
    async def body():
        topic = unique_topic()
        v1, _ = await open_joined(relay, "1.0.0", topic=topic)
        v2, _ = await open_joined(relay, "2.0.0", topic=topic)
        for data in (bytes([0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0xFF]), b""):
            status, _ = post(relay, single_path(sub_topic(topic), "bin"), data, content_type="application/octet-stream")
            assert status == 202
            got = await v2.expect_event(topic, "broadcast")
            assert got.get("binary") and got["encoding"] == 0 and got["raw_payload"] == data
            assert got["payload"]["event"] == "bin"
        await v1.assert_silent(0.3, lambda m: m["event"] == "broadcast")
    run(body())


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "multipart/form-data; boundary=x"])
def test_single_unsupported_content_type_is_415(relay, ctype):
    """validate_broadcast_content_type_test "returns 415 for text/plain", "... for
    application/xml", "... for multipart/form-data"."""
    status, resp = post(relay, single_path("room", "e"), b"{}", content_type=ctype)
    assert (status, resp) == (415, {"error": "Unsupported Media Type. Use application/json or application/octet-stream"})


def test_single_without_content_type_is_json(relay):
    """validate_broadcast_content_type_test "passes through when content-type header is missing"."""
    async def body():
        c, topic = await open_joined(relay, "2.0.0")
        status, _ = post(relay, single_path(sub_topic(topic), "e"), {"n": 1}, content_type=None)
        assert status == 202
        assert (await c.expect_event(topic, "broadcast"))["payload"]["payload"] == {"n": 1}
    run(body())


def test_single_payload_over_the_limit_is_422(relay):
    """broadcast_single_controller_test "returns 422 when JSON payload exceeds size limit"."""
    status, resp = post(relay, single_path("room", "e"), {"data": "x" * 3_100_000})
    assert status == 422 and resp["errors"]["payload"] == ["Payload size exceeds tenant limit"], (status, resp)
