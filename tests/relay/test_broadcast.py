"""Client broadcast: self and ack, delivery between protocol versions, and binary
frames (kind 3 in, kind 4 out; JSON to vsn 1.0.0 members)."""
import asyncio
import json

import pytest

from support.phoenix import VSNS, PhoenixClient, join_config, run, unique_topic


@pytest.mark.parametrize("self_", [False, True], ids=["self-false", "self-true"])
def test_self(relay, vsn, self_):
    async def body():
        a = await PhoenixClient.open(relay, vsn)
        b = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        await a.join(topic, join_config(self=self_))
        await b.join(topic)
        await a.broadcast(topic, "hello", {"from": "a"})
        got = await b.expect_event(topic, "broadcast")
        assert got["payload"] == {"type": "broadcast", "event": "hello", "payload": {"from": "a"}}
        if self_:
            mine = await a.expect_event(topic, "broadcast")
            assert mine["payload"] == got["payload"]
        else:
            # b has it, so had a been a recipient it would have it by now (same queue order).
            await a.push("phoenix", "heartbeat", {}, join_ref=None)
            await a.expect_event("phoenix", "phx_reply")
            await a.assert_silent(0.3, lambda m: m["event"] == "broadcast")
        await a.close()
        await b.close()
    run(body())


@pytest.mark.parametrize("ack", [False, True], ids=["ack-false", "ack-true"])
def test_ack(relay, vsn, ack):
    async def body():
        a = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        await a.join(topic, join_config(self=True, ack=ack))
        ref = await a.broadcast(topic, "e", {"n": 1})
        await a.expect_event(topic, "broadcast")
        if ack:
            reply = await a.reply(ref, topic)
            assert reply["payload"] == {"status": "ok", "response": {}}
        else:
            # The heartbeat reply comes after any reply to the broadcast would have.
            await a.heartbeat()
            assert not [m for m in a.inbox if m["event"] == "phx_reply" and m["ref"] == ref]
        await a.close()
    run(body())


@pytest.mark.parametrize("sender_vsn", VSNS)
@pytest.mark.parametrize("receiver_vsn", VSNS)
def test_text_broadcast_between_versions(relay, sender_vsn, receiver_vsn):
    async def body():
        a = await PhoenixClient.open(relay, sender_vsn)
        b = await PhoenixClient.open(relay, receiver_vsn)
        topic = unique_topic()
        await a.join(topic)
        await b.join(topic)
        payload = {"text": "héllo ✓", "n": 1.5, "list": [1, None, True], "nested": {"a": {}}}
        await a.broadcast(topic, "msg", payload)
        raw = json.loads(await b.ws.recv())  # the frame itself: text, in b's framing
        if receiver_vsn == "2.0.0":
            assert raw == [None, None, topic, "broadcast", {"type": "broadcast", "event": "msg", "payload": payload}]
        else:
            assert raw == {"topic": topic, "event": "broadcast", "ref": None,
                           "payload": {"type": "broadcast", "event": "msg", "payload": payload}}
        await a.close()
        await b.close()
    run(body())


def test_binary_broadcast_fans_out_by_version(relay):
    """A kind 3 push reaches vsn 2.0.0 members as kind 4 and vsn 1.0.0 members as JSON."""
    async def body():
        sender = await PhoenixClient.open(relay, "2.0.0")
        v2 = await PhoenixClient.open(relay, "2.0.0")
        v1 = await PhoenixClient.open(relay, "1.0.0")
        topic = unique_topic()
        await sender.join(topic, join_config(self=True, ack=True))
        await v2.join(topic)
        await v1.join(topic)
        ref = await sender.push_binary_broadcast(topic, "cursor", {"x": 10, "y": 20})
        assert (await sender.reply(ref, topic))["payload"]["status"] == "ok"

        frame = await v2.ws.recv()
        assert isinstance(frame, bytes) and frame[0] == 4
        msg = v2.decode(frame)
        assert msg["topic"] == topic
        assert msg["payload"] == {"type": "broadcast", "event": "cursor", "payload": {"x": 10, "y": 20}}
        mine = await sender.expect_event(topic, "broadcast")
        assert mine.get("binary") and mine["payload"]["payload"] == {"x": 10, "y": 20}

        frame = await v1.ws.recv()
        assert isinstance(frame, str)
        assert json.loads(frame) == {"topic": topic, "event": "broadcast", "ref": None, "payload": {
            "type": "broadcast", "event": "cursor", "payload": {"x": 10, "y": 20}}}
        for c in (sender, v2, v1):
            await c.close()
    run(body())


def test_binary_kind4_layout_without_the_clients_metadata(relay):
    """A kind 3 push reaches 2.0.0 members as kind 4: topic, event, no metadata (a client's
    is not passed on, as in Supabase: it could forge meta.id or meta.replayed), encoding 1
    and the JSON payload's bytes."""
    async def body():
        sender = await PhoenixClient.open(relay, "2.0.0")
        v2 = await PhoenixClient.open(relay, "2.0.0")
        topic = unique_topic()
        await sender.join(topic)
        await v2.join(topic)
        await sender.push_binary_broadcast(topic, "ev", {"k": "v"}, metadata=b'{"id":"abc"}')
        frame = await v2.ws.recv()
        t, e = topic.encode(), b"ev"
        assert frame[:5] == bytes([4, len(t), len(e), 0, 1])
        assert frame[5:5 + len(t)] == t
        assert frame[5 + len(t):5 + len(t) + len(e)] == e
        assert json.loads(frame[5 + len(t) + len(e):]) == {"k": "v"}
        await sender.close()
        await v2.close()
    run(body())


def test_binary_payload_goes_to_v2_only(relay):
    """Raw bytes (encoding 0) travel as kind 4 to vsn 2.0.0 members and cannot reach
    vsn 1.0.0 members, who get nothing (and nothing malformed)."""
    async def body():
        sender = await PhoenixClient.open(relay, "2.0.0")
        v2 = await PhoenixClient.open(relay, "2.0.0")
        v1 = await PhoenixClient.open(relay, "1.0.0")
        topic = unique_topic()
        await sender.join(topic)
        await v2.join(topic)
        await v1.join(topic)
        blob = bytes(range(256)) * 4
        await sender.push_binary_broadcast(topic, "blob", blob, json_encoding=False)
        frame = await v2.ws.recv()
        assert isinstance(frame, bytes) and frame[0] == 4
        t = topic.encode()
        assert frame[1:5] == bytes([len(t), 4, 0, 0])
        assert frame[5 + len(t) + 4:] == blob
        # v1 gets the next JSON broadcast, not the binary one.
        await sender.broadcast(topic, "after", {})
        got = await v1.expect_event(topic, "broadcast")
        assert got["payload"]["event"] == "after"
        for c in (sender, v2, v1):
            await c.close()
    run(body())


def test_broadcast_stays_in_its_channel(relay, vsn):
    async def body():
        a = await PhoenixClient.open(relay, vsn)
        b = await PhoenixClient.open(relay, vsn)
        t1, t2 = unique_topic(), unique_topic()
        await a.join(t1)
        await b.join(t2)
        await b.join(t1)
        await a.broadcast(t1, "for-t1", {})
        got = await b.expect_event(t1, "broadcast")
        assert got["payload"]["event"] == "for-t1"
        await b.assert_silent(0.3, lambda m: m["topic"] == t2 and m["event"] == "broadcast")
        await a.close()
        await b.close()
    run(body())


def test_numbers_arrive_as_the_sender_wrote_them(relay):
    """Found by fuzz_json: numbers were read not correctly rounded, so peers got another
    number (12345678901234566000.0 for this one). Payloads now pass on as the sender
    wrote them (as Supabase's), so each number arrives as its very text."""
    async def body():
        a = await PhoenixClient.open(relay)
        b = await PhoenixClient.open(relay)
        topic = unique_topic()
        await a.join(topic)
        await b.join(topic)
        numbers = ["123456789012345678901234567890e-10", "1084467440084467440737073709551615",
                   "2.2250738585072011e-308", "0.30000000000000004"]
        inner = '{"type":"broadcast","event":"n","payload":{"n":[' + ",".join(numbers) + "]}}"
        await a.send_raw(f'{{"topic":{json.dumps(topic)},"event":"broadcast","payload":{inner},'
                         f'"ref":"7","join_ref":{json.dumps(a.join_refs[topic])}}}')
        text = await asyncio.wait_for(b.ws.recv(), 10)
        assert '"n":[' + ",".join(numbers) + "]" in text, text
    run(body())


def test_broadcast_without_event_is_an_error(relay, vsn):
    async def body():
        a = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        await a.join(topic, join_config(self=True))
        ref = await a.push(topic, "broadcast", {"type": "broadcast", "payload": {}})
        reply = await a.reply(ref, topic)
        assert reply["payload"]["status"] == "error"
        await a.assert_silent(0.2, lambda m: m["event"] == "broadcast")
        await a.close()
    run(body())


def test_string_booleans_in_config(relay, vsn):
    """Booleans may arrive as the strings "true" / "false" (as some clients send them)."""
    async def body():
        a = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        await a.join(topic, {"broadcast": {"self": "true", "ack": "true"}, "presence": {"enabled": "false"},
                             "postgres_changes": [], "private": "false"})
        ref = await a.broadcast(topic, "e", {"n": 1})
        assert (await a.reply(ref, topic))["payload"]["status"] == "ok"
        assert (await a.expect_event(topic, "broadcast"))["payload"]["payload"] == {"n": 1}
        await a.close()
    run(body())
