"""Broadcast from the database to public channels, as Supabase does it
(lib/realtime/tenants/replication_connection.ex handle_message/2 for realtime.messages
inserts; realtime.send in migrations/20251103001201_broadcast_send_include_payload_id.ex;
test/integration/rt_channel/broadcast_test.exs "trigger-based broadcast changes",
connection_lifecycle_test.exs "replication connection establishment"): realtime.send
adds the message id to a payload without one and sends it as "meta": {"id"}, only on
commit, and never fails its caller; realtime.send_binary reaches 2.0.0 members as raw
bytes; a channel that asks with broadcast.replication_ready is told when broadcasts from
the database can reach it."""
import uuid

from support.phoenix import run

from .helpers import open_joined, sub_topic, system_message


def test_send_public_delivers_payload_with_id_and_meta(cdc):
    """broadcast_test "broadcast event when function 'send' is called with public topic"."""
    db, relay = cdc

    async def body():
        v1, topic = await open_joined(relay, "1.0.0")
        v2, _ = await open_joined(relay, "2.0.0", topic=topic)
        db.execute("SELECT realtime.send(json_build_object('value', 'hello')::jsonb, 'ev', %s, false)",
                   (sub_topic(topic),))
        for c in (v1, v2):
            got = (await c.expect_event(topic, "broadcast", timeout=15))["payload"]
            assert (got["event"], got["type"]) == ("ev", "broadcast")
            mid = got["meta"]["id"]
            uuid.UUID(mid)
            assert got["payload"] == {"value": "hello", "id": mid}, got
    run(body())


def test_send_keeps_a_payload_id(cdc):
    """realtime.send: "IF payload ? 'id' THEN final_payload := payload"."""
    db, relay = cdc

    async def body():
        c, topic = await open_joined(relay, "2.0.0")
        db.execute("""SELECT realtime.send('{"id": "mine", "n": 1}'::jsonb, 'ev', %s, false)""", (sub_topic(topic),))
        got = (await c.expect_event(topic, "broadcast", timeout=15))["payload"]
        assert got["payload"] == {"id": "mine", "n": 1}
    run(body())


def test_send_only_on_commit(cdc):
    """The message is a realtime.messages row: a rolled back transaction sends nothing."""
    db, relay = cdc

    async def body():
        c, topic = await open_joined(relay, "2.0.0")
        with db.connect(autocommit=False) as conn, conn.cursor() as cur:
            cur.execute("SELECT realtime.send('{}'::jsonb, 'rolled-back', %s, false)", (sub_topic(topic),))
            conn.rollback()
        db.execute("SELECT realtime.send('{}'::jsonb, 'committed', %s, false)", (sub_topic(topic),))
        got = (await c.expect_event(topic, "broadcast", timeout=15))["payload"]
        assert got["event"] == "committed"
    run(body())


def test_send_never_fails_its_caller(cdc):
    """realtime.send catches every error and raises a WARNING instead
    (ErrorSendingBroadcastMessage), so a trigger calling it cannot abort the write."""
    db, relay = cdc
    db.execute("SELECT realtime.send('{}'::jsonb, 'e', NULL, false)")
    db.execute("SELECT realtime.send('{}'::jsonb, NULL, 'room', false)")


def test_send_binary_reaches_v2_members_as_bytes(cdc):
    """broadcast_test "broadcast event when function 'send_binary' is called": kind 4 with
    binary encoding and meta {"id"} for 2.0.0; 1.0.0 members cannot receive it."""
    db, relay = cdc
    data = bytes([0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0xFF, 0x01, 0x02])

    async def body():
        v2, topic = await open_joined(relay, "2.0.0")
        v1, _ = await open_joined(relay, "1.0.0", topic=topic)
        db.execute("SELECT realtime.send_binary(%s::bytea, 'bin', %s, false)", (data, sub_topic(topic)))
        got = await v2.expect_event(topic, "broadcast", timeout=15)
        assert got.get("binary") and got["encoding"] == 0 and got["raw_payload"] == data
        uuid.UUID(got["payload"]["meta"]["id"])
        await v1.assert_silent(0.5, lambda m: m["event"] == "broadcast")
    run(body())


def test_replication_ready_only_when_asked(cdc, vsn):
    """connection_lifecycle_test "clients that opt in receive the replication established
    system message"; realtime_channel_replication_ready_test "does not arm replication
    readiness notifications unless opted in"."""
    db, relay = cdc

    async def body():
        asked, topic = await open_joined(relay, vsn, {"broadcast": {"self": True, "replication_ready": True}})
        payload = await system_message(asked, topic)
        assert payload == {"extension": "system", "status": "ok", "message": "Replication connection established",
                           "channel": sub_topic(topic)}
        other, other_topic = await open_joined(relay, vsn, {"broadcast": {"self": True}})
        await other.assert_silent(1, lambda m: m["event"] == "system")
    run(body())
