"""Broadcast between clients, as Supabase's BroadcastHandler and V2 serializer do it
(lib/realtime_web/channels/realtime_channel/broadcast_handler.ex, socket/v2_serializer.ex,
socket/user_broadcast.ex; test/integration/rt_channel/broadcast_test.exs,
broadcast_handler_test.exs, message_dispatcher_test.exs): the payload a client sends is
the payload others receive, values intact; a kind 3 JSON payload travels as its bytes;
a client's kind 3 metadata is not passed on; a payload over the size limit is dropped
(an error reply when acknowledged) and the channel stays."""
import json

import pytest

from support.phoenix import run, unique_topic

from .helpers import TRICKY, TRICKY_JSON, open_joined

@pytest.mark.parametrize("sender_vsn", ["1.0.0", "2.0.0"])
def test_text_broadcast_values_unchanged(relay, sender_vsn):
    """broadcast_test "public broadcast": the receiver gets exactly the pushed payload
    (event, type, payload), as a push with null join_ref and ref; presence_test tracks
    t: 1814.7000000029802 and expects it back equal."""
    async def body():
        topic = unique_topic()
        sender, _ = await open_joined(relay, sender_vsn, topic=topic, self=True)
        receivers = [(await open_joined(relay, v, topic=topic))[0] for v in ("1.0.0", "2.0.0")]
        pushed = {"type": "broadcast", "event": "TEST", "payload": TRICKY}
        await sender.push(topic, "broadcast", pushed)
        for c in receivers + [sender]:
            got = await c.expect_event(topic, "broadcast")
            assert got["payload"] == pushed, (c.vsn, got["payload"])
            assert (got["ref"], got["join_ref"]) == (None, None)
    run(body())


def test_kind3_json_payload_bytes_pass_through(relay):
    """broadcast_handler_test "V2 json UserBroadcastPush": the payload of a kind 3 push is
    kept as bytes (UserBroadcast, a Jason.Fragment for 1.0.0 receivers): a 2.0.0 member
    gets a kind 4 frame with the same bytes, a 1.0.0 member the same JSON text embedded."""
    async def body():
        topic = unique_topic()
        sender, _ = await open_joined(relay, "2.0.0", topic=topic)
        v2, _ = await open_joined(relay, "2.0.0", topic=topic)
        v1, _ = await open_joined(relay, "1.0.0", topic=topic)
        await sender.push_binary_broadcast(topic, "TEST", TRICKY_JSON.encode(), json_encoding=True)
        frame = await v2.expect_event(topic, "broadcast")
        assert frame.get("binary") and frame["encoding"] == 1, frame
        assert frame["raw_payload"] == TRICKY_JSON.encode()
        text = await v1.ws.recv()
        assert TRICKY_JSON in text, text
        assert json.loads(text)["payload"] == {"event": "TEST", "payload": TRICKY, "type": "broadcast"}
    run(body())


def test_kind3_metadata_not_passed_on(relay):
    """broadcast_handler.ex build_broadcast/2 ignores the kind 3 metadata ("We are not
    using the metadata for anything just yet"): members get no meta from a client, so a
    client cannot stamp meta.id or meta.replayed on what others receive."""
    async def body():
        topic = unique_topic()
        sender, _ = await open_joined(relay, "2.0.0", topic=topic)
        v2, _ = await open_joined(relay, "2.0.0", topic=topic)
        v1, _ = await open_joined(relay, "1.0.0", topic=topic)
        await sender.push_binary_broadcast(topic, "ev", {"k": "v"}, metadata=b'{"id":"forged","replayed":true}')
        got2 = await v2.expect_event(topic, "broadcast")
        assert "meta" not in got2["payload"], got2
        got1 = await v1.expect_event(topic, "broadcast")
        assert got1["payload"] == {"type": "broadcast", "event": "ev", "payload": {"k": "v"}}, got1
    run(body())


def test_payload_of_two_megabytes_is_delivered(relay):
    """Supabase's default max_payload_size_in_kb is 3000 (lib/realtime/api/tenant.ex) and
    its WebSocket max_frame_size 5 000 000 (endpoint.ex): a 2 MB broadcast goes through."""
    async def body():
        topic = unique_topic()
        sender, _ = await open_joined(relay, "2.0.0", topic=topic, ack=True)
        receiver, _ = await open_joined(relay, "1.0.0", topic=topic)
        data = "x" * 2_000_000
        ref = await sender.broadcast(topic, "big", {"data": data})
        assert (await sender.reply(ref, topic, timeout=20))["payload"]["status"] == "ok"
        got = await receiver.expect_event(topic, "broadcast", timeout=20)
        assert got["payload"]["payload"]["data"] == data
    run(body(), timeout=60)


@pytest.mark.parametrize("ack", [True, False], ids=["ack", "no-ack"])
def test_payload_over_the_limit_is_dropped(relay, ack):
    """broadcast_handler_test "handle payload size excedding limits in public channels"
    (and "... and if ack it will receive error"): a 3.5 MB payload (over 3000 KB, under
    the 5 MB frame limit) is not delivered; with ack the sender gets an error reply; the
    channel and the socket stay."""
    async def body():
        topic = unique_topic()
        sender, _ = await open_joined(relay, "2.0.0", topic=topic, ack=ack)
        receiver, _ = await open_joined(relay, "2.0.0", topic=topic)
        ref = await sender.broadcast(topic, "too-big", {"data": "x" * 3_500_000})
        if ack:
            assert (await sender.reply(ref, topic, timeout=20))["payload"]["status"] == "error"
        await receiver.assert_silent(1, lambda m: m["event"] == "broadcast")
        ref = await sender.broadcast(topic, "small", {"n": 1})
        if ack:
            assert (await sender.reply(ref, topic))["payload"]["status"] == "ok"
        assert (await receiver.expect_event(topic, "broadcast"))["payload"]["event"] == "small"
    run(body(), timeout=60)
