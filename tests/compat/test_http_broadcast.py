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


@pytest.mark.parametrize("headers", [
    {"Authorization": "bearer {token}"},
    {"Authorization": "", "apikey": "{token}"},
], ids=["lowercase-bearer", "apikey-header"])
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


def test_single_without_content_type_is_json(relay):
    """validate_broadcast_content_type_test "passes through when content-type header is missing"."""
    async def body():
        c, topic = await open_joined(relay, "2.0.0")
        status, _ = post(relay, single_path(sub_topic(topic), "e"), {"n": 1}, content_type=None)
        assert status == 202
        assert (await c.expect_event(topic, "broadcast"))["payload"]["payload"] == {"n": 1}
    run(body())
