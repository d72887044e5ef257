"""Broadcast between clients, as Supabase's BroadcastHandler and V2 serializer do it
(lib/realtime_web/channels/realtime_channel/broadcast_handler.ex, socket/v2_serializer.ex,
socket/user_broadcast.ex; test/integration/rt_channel/broadcast_test.exs,
broadcast_handler_test.exs, message_dispatcher_test.exs): the payload a client sends is
the payload others receive, values intact; a kind 3 JSON payload travels as its bytes;
a client's kind 3 metadata is not passed on; a payload over the size limit is dropped
(an error reply when acknowledged) and the channel stays."""
import json

from support.phoenix import run, unique_topic

from .helpers import TRICKY, TRICKY_JSON, open_joined


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
