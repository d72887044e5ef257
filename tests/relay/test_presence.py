"""Presence: presence_state on join, presence_diff for join, update (phx_ref_prev) and
leave, leaves on phx_leave and on disconnect, track enabling presence, bad payloads."""
import uuid

from support.phoenix import PhoenixClient, join_config, run, unique_topic


def presence(key):
    return join_config(presence=True, key=key)


async def diff(client, topic, where=None):
    return (await client.expect_event(topic, "presence_diff", where=where))["payload"]


def metas(state, key):
    return state[key]["metas"]


def test_join_update_leave(relay, vsn):
    async def body():
        a = await PhoenixClient.open(relay, vsn)
        b = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()

        assert (await a.join(topic, presence("alice")))["status"] == "ok"
        state = await a.expect_event(topic, "presence_state")
        assert state["payload"] == {}
        assert (await a.track(topic, {"name": "Alice"})) == {"status": "ok", "response": {}}
        d = await diff(a, topic)
        assert d["leaves"] == {}
        [meta] = metas(d["joins"], "alice")
        ref1 = meta["phx_ref"]
        assert isinstance(ref1, str) and ref1
        assert meta == {"phx_ref": ref1, "name": "Alice"}

        # A later member gets the state with alice in it, then sees its own join.
        assert (await b.join(topic, presence("bob")))["status"] == "ok"
        state = (await b.expect_event(topic, "presence_state"))["payload"]
        assert state == {"alice": {"metas": [{"phx_ref": ref1, "name": "Alice"}]}}
        await b.track(topic, {"name": "Bob"})
        for c in (a, b):
            d = await diff(c, topic, where=lambda p: "bob" in p["joins"])
            assert metas(d["joins"], "bob")[0]["name"] == "Bob"

        # Update: a join with phx_ref_prev plus a leave of the old meta, same key.
        await a.track(topic, {"name": "Alice", "status": "away"})
        for c in (a, b):
            d = await diff(c, topic, where=lambda p: "alice" in p["joins"])
            [new] = metas(d["joins"], "alice")
            [old] = metas(d["leaves"], "alice")
            assert old == {"phx_ref": ref1, "name": "Alice"}
            assert new["phx_ref"] != ref1 and new["phx_ref_prev"] == ref1
            assert new["status"] == "away"
        ref2 = new["phx_ref"]

        # Untrack: a leave.
        assert (await a.push(topic, "presence", {"type": "presence", "event": "untrack"}))
        for c in (a, b):
            d = await diff(c, topic, where=lambda p: "alice" in p["leaves"])
            assert d["joins"] == {}
            assert [m["phx_ref"] for m in metas(d["leaves"], "alice")] == [ref2]

        # State for a newcomer now holds bob only.
        c3 = await PhoenixClient.open(relay, vsn)
        await c3.join(topic, presence("carol"))
        state = (await c3.expect_event(topic, "presence_state"))["payload"]
        assert list(state) == ["bob"]
        for c in (a, b, c3):
            await c.close()
    run(body())


def test_leave_on_disconnect_and_on_phx_leave(relay, vsn):
    async def body():
        watcher = await PhoenixClient.open(relay, vsn)
        gone = await PhoenixClient.open(relay, vsn)
        leaver = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        await watcher.join(topic, presence("w"))
        for c, key in ((gone, "gone"), (leaver, "leaver")):
            await c.join(topic, presence(key))
            await c.track(topic, {"k": key})
            await diff(watcher, topic, where=lambda p, key=key: key in p["joins"])

        await gone.ws.close()
        d = await diff(watcher, topic, where=lambda p: p["leaves"])
        assert list(d["leaves"]) == ["gone"] and d["joins"] == {}
        assert metas(d["leaves"], "gone")[0]["k"] == "gone"

        await leaver.leave(topic)
        d = await diff(watcher, topic, where=lambda p: p["leaves"])
        assert list(d["leaves"]) == ["leaver"]
        await watcher.close()
        await leaver.close()
    run(body())


def test_same_key_on_two_sockets(relay, vsn):
    async def body():
        a = await PhoenixClient.open(relay, vsn)
        b = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        await a.join(topic, presence("user-1"))
        await a.track(topic, {"device": "phone"})
        await b.join(topic, presence("user-1"))
        await b.track(topic, {"device": "laptop"})
        c = await PhoenixClient.open(relay, vsn)
        await c.join(topic, presence("viewer"))
        state = (await c.expect_event(topic, "presence_state"))["payload"]
        assert sorted(m["device"] for m in metas(state, "user-1")) == ["laptop", "phone"]
        for x in (a, b, c):
            await x.close()
    run(body())


def test_track_enables_presence(relay, vsn):
    """A track on a channel joined without presence enables it: presence_state, then diffs."""
    async def body():
        a = await PhoenixClient.open(relay, vsn)
        other = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        await other.join(topic, presence("other"))
        await other.track(topic, {"x": 1})
        assert (await a.join(topic, join_config(presence=False, key="late")))["status"] == "ok"
        # No presence_state for a join without presence.
        await a.heartbeat()
        assert not [m for m in a.inbox if m["event"] == "presence_state"]

        assert (await a.track(topic, {"y": 2}))["status"] == "ok"
        state = await a.expect_event(topic, "presence_state")
        assert list(state["payload"]) == ["other"]
        d = await diff(a, topic)
        assert metas(d["joins"], "late")[0]["y"] == 2
        d = await diff(other, topic, where=lambda p: "late" in p["joins"])
        for x in (a, other):
            await x.close()
    run(body())


def test_generated_key_when_empty(relay, vsn):
    async def body():
        a = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        await a.join(topic, presence(""))
        await a.track(topic, {"n": 1})
        d = await diff(a, topic)
        [key] = list(d["joins"])
        uuid.UUID(key)  # a UUID, as Supabase makes
        await a.close()
    run(body())


def test_track_payload_must_be_a_map(relay, vsn):
    async def body():
        a = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        await a.join(topic, presence("k"))
        for bad in ([1, 2], "text", 3, None):
            ref = await a.push(topic, "presence", {"type": "presence", "event": "track", "payload": bad})
            reply = await a.reply(ref, topic)
            assert reply["payload"] == {"status": "error", "response": {
                "reason": "Presence track payload must be a map"}}, bad
        ref = await a.push(topic, "presence", {"type": "presence", "event": "wave", "payload": {}})
        assert (await a.reply(ref, topic))["payload"]["status"] == "error"
        # Nothing was tracked, and the channel still works.
        assert (await a.track(topic, {"ok": True}))["status"] == "ok"
        d = await diff(a, topic)
        assert metas(d["joins"], "k")[0]["ok"] is True
        await a.close()
    run(body())
