"""The Phoenix / Supabase Realtime framing and channel lifecycle, in both protocol
versions: heartbeat, phx_join / phx_reply, phx_leave then phx_close, a second join
replacing the first, topic checks, and the idle timeout."""
import json

import pytest

from support.phoenix import PhoenixClient, assert_serves, join_config, run, unique_topic


async def raw_frame(client, timeout=10):
    """The next text frame as the server wrote it (not normalized)."""
    import asyncio
    return json.loads(await asyncio.wait_for(client.ws.recv(), timeout))


def test_heartbeat_reply_frame(relay, vsn):
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        await c.push("phoenix", "heartbeat", {}, join_ref=None, ref="26")
        frame = await raw_frame(c)
        if vsn == "2.0.0":
            assert frame == [None, "26", "phoenix", "phx_reply", {"status": "ok", "response": {}}]
        else:
            assert frame == {"topic": "phoenix", "event": "phx_reply", "ref": "26",
                             "payload": {"status": "ok", "response": {}}}
        await c.close()
    run(body())


@pytest.mark.parametrize("path", ["/socket/websocket", "/realtime/v1/websocket"])
def test_join_reply_frame(relay, vsn, path):
    async def body():
        c = await PhoenixClient.open(relay, vsn, path=path)
        topic = unique_topic()
        payload = {"config": join_config(), "access_token": relay.token()}
        await c.push(topic, "phx_join", payload, join_ref="7", ref="7")
        frame = await raw_frame(c)
        reply = {"status": "ok", "response": {"postgres_changes": []}}
        if vsn == "2.0.0":
            assert frame == ["7", "7", topic, "phx_reply", reply]
        else:
            assert frame == {"topic": topic, "event": "phx_reply", "ref": "7", "payload": reply}
        await c.close()
    run(body())


def test_join_without_config_is_accepted(relay, vsn):
    """The legacy join form (no config) joins a broadcast-only channel."""
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        c.join_refs[topic] = "1"
        await c.push(topic, "phx_join", {}, join_ref="1", ref="1")
        reply = await c.reply("1", topic)
        assert reply["payload"]["status"] == "ok"
        await c.close()
    run(body())


def test_leave_replies_then_closes_with_join_ref(relay, vsn):
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        other = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        assert (await c.join(topic))["status"] == "ok"
        join_ref = c.join_refs[topic]
        assert (await other.join(topic))["status"] == "ok"

        leave_ref = await c.push(topic, "phx_leave", {})
        reply = await c.expect(lambda m: m["topic"] == topic, what="the leave reply")
        assert reply["event"] == "phx_reply" and reply["ref"] == leave_ref
        assert reply["payload"] == {"status": "ok", "response": {}}
        close = await c.expect(lambda m: m["topic"] == topic, what="phx_close")
        assert close["event"] == "phx_close" and close["payload"] == {}
        # realtime-js ignores a phx_close whose ref is not its current join ref, so the
        # ref must be the join's.
        assert close["ref"] == join_ref
        if vsn == "2.0.0":
            assert close["join_ref"] == join_ref

        # Left: broadcasts in the channel no longer reach it, and pushes are refused.
        await other.broadcast(topic, "after-leave", {})
        await c.assert_silent(0.5, lambda m: m["topic"] == topic)
        ref = await c.broadcast(topic, "e", {})
        refused = await c.reply(ref, topic)
        assert refused["payload"] == {"status": "error", "response": {"reason": "unmatched topic"}}
        await c.close()
        await other.close()
    run(body())


def test_second_join_replaces_first(relay, vsn):
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        sender = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        assert (await c.join(topic, join_config(self=False)))["status"] == "ok"
        first_ref = c.join_refs[topic]
        assert (await c.join(topic, join_config(self=False)))["status"] == "ok"
        second_ref = c.join_refs[topic]
        assert second_ref != first_ref

        # The first membership is closed under its own join ref, so a client ignores it.
        closes = [m for m in c.inbox if m["event"] == "phx_close"]
        c.inbox = [m for m in c.inbox if m["event"] != "phx_close"]
        for m in closes:
            assert m["ref"] == first_ref, m
        assert len(closes) <= 1

        # One membership remains: a broadcast arrives once.
        assert (await sender.join(topic))["status"] == "ok"
        await sender.broadcast(topic, "once", {"n": 1})
        await c.expect_event(topic, "broadcast")
        await c.assert_silent(0.5, lambda m: m["event"] == "broadcast")
        # And it is the second one: leaving closes it with the second join ref.
        await c.leave(topic)
        close = await c.expect_event(topic, "phx_close")
        assert close["ref"] == second_ref
        await c.close()
        await sender.close()
    run(body())


def test_topic_errors(relay, vsn):
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        # A topic without the realtime: prefix.
        c.join_refs["room1"] = "1"
        await c.push("room1", "phx_join", {"config": join_config()}, join_ref="1", ref="1")
        assert (await c.reply("1", "room1"))["payload"] == {
            "status": "error", "response": {"reason": "unmatched topic"}}
        # realtime: alone.
        reply = await c.join("realtime:")
        assert reply["status"] == "error"
        assert reply["response"]["reason"].startswith("TopicNameRequired")
        # A push on a topic never joined.
        ref = await c.push("realtime:never-joined", "broadcast", {"type": "broadcast", "event": "e", "payload": {}})
        assert (await c.reply(ref, "realtime:never-joined"))["payload"] == {
            "status": "error", "response": {"reason": "unmatched topic"}}
        # An event Phoenix does not know on the phoenix topic.
        ref = await c.push("phoenix", "dance", {})
        assert (await c.reply(ref, "phoenix"))["payload"]["status"] == "error"
        # The socket still works, as does the server for others.
        assert (await c.heartbeat())["status"] == "ok"
        await assert_serves(relay, vsn)
        await c.close()
    run(body())


def test_unknown_event_on_joined_topic(relay, vsn):
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        await c.join(topic, join_config(self=True))
        ref = await c.push(topic, "dance", {"x": 1})
        reply = await c.reply(ref, topic)
        assert reply["payload"]["status"] == "error"
        assert "dance" in reply["payload"]["response"]["reason"]
        # The channel is still joined.
        await c.broadcast(topic, "still", {})
        await c.expect_event(topic, "broadcast")
        await assert_serves(relay, vsn)
        await c.close()
    run(body())


def test_private_channel_refused_without_database(relay, vsn):
    """A relay without --db cannot read the policies of a private channel: refused as
    Supabase refuses a join when the project's database is unreachable (the policies
    themselves are tested in test_private_channels.py)."""
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        reply = await c.join("realtime:secret", join_config(private=True))
        assert reply == {"status": "error", "response": {
            "reason": "UnableToConnectToProject: Realtime was unable to connect to the project database"}}
        await c.close()
    run(body())


def test_idle_socket_closed(relay_factory, vsn):
    """A socket silent for --idle-timeout seconds is closed; one that heartbeats is not."""
    relay = relay_factory(args=["--idle-timeout", "2"])

    async def body():
        import asyncio
        silent = await PhoenixClient.open(relay, vsn, ping_interval=None)
        busy = await PhoenixClient.open(relay, vsn, ping_interval=None)

        async def heartbeats():
            while True:
                await busy.heartbeat()
                await asyncio.sleep(0.5)
        beating = asyncio.ensure_future(heartbeats())
        try:
            code = await silent.wait_closed(timeout=20)
            assert code == 1000
        finally:
            beating.cancel()
        # The heartbeating socket outlived the silent one and still answers.
        assert (await busy.heartbeat())["status"] == "ok"
        await busy.close()
    run(body())
