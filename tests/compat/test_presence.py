"""Presence, as Supabase's PresenceHandler and Phoenix.Presence do it
(lib/realtime_web/channels/realtime_channel/presence_handler.ex;
test/integration/rt_channel/presence_test.exs, presence_handler_test.exs,
realtime_channel_test.exs "presence"): event names in any case, a repeated identical
track is a no-op, an update is a join plus a leave, untrack or unknown events never
enable presence, metas come back as they were tracked."""
import pytest

from support.phoenix import join_config, run, unique_topic

from .helpers import TRICKY, closed_with_system_error, open_joined


def presence(key="", enabled=True):
    return join_config(presence=enabled, key=key)


async def push_presence(client, topic, event, payload=None, with_payload=True):
    body = {"type": "presence", "event": event}
    if with_payload:
        body["payload"] = payload if payload is not None else {}
    ref = await client.push(topic, "presence", body)
    return (await client.reply(ref, topic))["payload"]


async def diff(client, topic, timeout=10):
    return (await client.expect_event(topic, "presence_diff", timeout=timeout))["payload"]


@pytest.mark.parametrize("event,untrack", [("TRACK", "UNTRACK"), ("Track", "Untrack"), ("track", "untrack")])
def test_event_name_in_any_case(relay, vsn, event, untrack):
    """presence_test "public presence" tracks with event "TRACK" (the handler downcases it)."""
    async def body():
        c, topic = await open_joined(relay, vsn, presence("k"))
        assert (await c.expect_event(topic, "presence_state"))["payload"] == {}
        assert await push_presence(c, topic, event, {"name": "realtime_presence_96"}) == {
            "status": "ok", "response": {}}
        d = await diff(c, topic)
        assert d["leaves"] == {}
        [meta] = d["joins"]["k"]["metas"]
        assert meta["name"] == "realtime_presence_96"
        assert await push_presence(c, topic, untrack) == {"status": "ok", "response": {}}
        d = await diff(c, topic)
        assert list(d["leaves"]) == ["k"] and d["joins"] == {}
    run(body())


def test_meta_values_unchanged(relay, vsn):
    """presence_test "public presence": t: 1814.7000000029802 comes back equal, as do
    the other values a re-encoding can spoil."""
    async def body():
        c, topic = await open_joined(relay, vsn, presence("k"))
        watcher, _ = await open_joined(relay, "1.0.0" if vsn == "2.0.0" else "2.0.0", presence("w"), topic=topic)
        await push_presence(c, topic, "track", TRICKY)
        for who in (c, watcher):
            d = await diff(who, topic)
            [meta] = d["joins"]["k"]["metas"]
            assert {k: v for k, v in meta.items() if k != "phx_ref"} == TRICKY, who.vsn
        newcomer, _ = await open_joined(relay, vsn, presence("n"), topic=topic)
        state = (await newcomer.expect_event(topic, "presence_state"))["payload"]
        [meta] = state["k"]["metas"]
        assert {k: v for k, v in meta.items() if k != "phx_ref"} == TRICKY
    run(body())


def test_identical_track_sends_no_diff(relay, vsn):
    """realtime_channel_test "presence track with same payload does nothing",
    presence_handler_test "tracking the same payload does nothing"; and "tracking,
    untracking and then tracking the same payload emit events"."""
    async def body():
        c, topic = await open_joined(relay, vsn, presence("my_key"))
        await c.expect_event(topic, "presence_state")
        assert (await push_presence(c, topic, "track", {"hello": "world"}))["status"] == "ok"
        d = await diff(c, topic)
        assert d["joins"]["my_key"]["metas"][0]["hello"] == "world"
        assert (await push_presence(c, topic, "track", {"hello": "world"}))["status"] == "ok"
        await c.assert_silent(0.7, lambda m: m["event"] == "presence_diff")
        assert (await push_presence(c, topic, "untrack"))["status"] == "ok"
        assert list((await diff(c, topic))["leaves"]) == ["my_key"]
        assert (await push_presence(c, topic, "track", {"hello": "world"}))["status"] == "ok"
        assert list((await diff(c, topic))["joins"]) == ["my_key"]
    run(body())


def test_track_without_payload_tracks_an_empty_meta(relay, vsn):
    """presence_handler_test "with false policy and is public, user can track their
    presence and changes" tracks %{"event" => "track"} with no payload: the meta is {}."""
    async def body():
        c, topic = await open_joined(relay, vsn, presence("k"))
        assert (await push_presence(c, topic, "track", with_payload=False))["status"] == "ok"
        [meta] = (await diff(c, topic))["joins"]["k"]["metas"]
        assert set(meta) == {"phx_ref"}, meta
    run(body())


@pytest.mark.parametrize("event", ["untrack", "wave"])
def test_untrack_or_unknown_event_does_not_enable_presence(relay, vsn, event):
    """presence_handler_test "socket with presence disabled will not enable presence on
    untrack message" / "... on unknown event" (an unknown event is an error reply,
    "logs out non recognized events"); only a track enables it."""
    async def body():
        c, topic = await open_joined(relay, vsn, presence("k", enabled=False))
        other, _ = await open_joined(relay, vsn, presence("o"), topic=topic)
        await other.expect_event(topic, "presence_state")
        await push_presence(other, topic, "track", {"x": 1})
        await diff(other, topic)
        reply = await push_presence(c, topic, event)
        assert reply["status"] == ("ok" if event == "untrack" else "error"), reply
        await c.assert_silent(0.7, lambda m: m["event"] in ("presence_state", "presence_diff"))
        await push_presence(other, topic, "track", {"x": 2})  # an update c must not see
        await c.assert_silent(0.7, lambda m: m["event"] in ("presence_state", "presence_diff"))
    run(body())


def test_track_after_an_empty_key_uses_one_generated_key(relay, vsn):
    """join_test "presence key as default": an empty key becomes a generated UUID once per
    channel, so an update keeps the same key (a join plus a leave of that key)."""
    async def body():
        c, topic = await open_joined(relay, vsn, presence(""))
        await push_presence(c, topic, "track", {"v": 1})
        [key] = list((await diff(c, topic))["joins"])
        await push_presence(c, topic, "track", {"v": 2})
        d = await diff(c, topic)
        assert list(d["joins"]) == [key] and list(d["leaves"]) == [key]
        assert d["joins"][key]["metas"][0]["phx_ref_prev"] == d["leaves"][key]["metas"][0]["phx_ref"]
    run(body())


def test_presence_state_is_grouped_by_key(relay, vsn):
    """Phoenix.Presence.group/1 in presence_dirty_list: the state a newcomer gets maps each
    key to {"metas": [...]}, one meta per tracking channel."""
    async def body():
        topic = unique_topic()
        a, _ = await open_joined(relay, vsn, presence("user-1"), topic=topic)
        b, _ = await open_joined(relay, vsn, presence("user-1"), topic=topic)
        await push_presence(a, topic, "track", {"device": "phone"})
        await push_presence(b, topic, "track", {"device": "laptop"})
        await diff(b, topic)
        newcomer, _ = await open_joined(relay, vsn, presence("viewer"), topic=topic)
        state = (await newcomer.expect_event(topic, "presence_state"))["payload"]
        assert list(state) == ["user-1"]
        assert sorted(m["device"] for m in state["user-1"]["metas"]) == ["laptop", "phone"]
        assert all(isinstance(m["phx_ref"], str) for m in state["user-1"]["metas"])
    run(body())


def test_track_over_the_size_limit_closes_the_channel(relay):
    """realtime_channel_test "presence track closes on high payload size": a 3.5 MB meta
    (over 3000 KB) gets system "Track message size exceeded" and the channel closes; the
    socket stays."""
    async def body():
        c, topic = await open_joined(relay, "2.0.0", presence("k"))
        await c.expect_event(topic, "presence_state")
        await c.push(topic, "presence", {"type": "presence", "event": "track", "payload": {"content": "a" * 3_500_000}})
        message = await closed_with_system_error(c, topic, timeout=20)
        assert message == "Track message size exceeded"
        assert (await c.heartbeat())["status"] == "ok"
    run(body(), timeout=60)


def test_frequent_tracks_are_not_capped(relay, vsn):
    """Supabase closes a channel on its 6th presence message within 30 s ("Client presence
    rate limit exceeded", realtime_channel_test "client rate limit blocks calls over the
    limit and shuts down channel"). We do not cap presence per channel beyond
    --max-events-per-second (docs/compatibility.md): an app within Supabase's cap works
    unchanged, one beyond it is not cut off."""
    async def body():
        c, topic = await open_joined(relay, vsn, presence("k"))
        for i in range(8):
            assert (await push_presence(c, topic, "track", {"call": i}))["status"] == "ok"
        await c.assert_silent(0.5, lambda m: m["event"] in ("system", "phx_close"))
    run(body())
