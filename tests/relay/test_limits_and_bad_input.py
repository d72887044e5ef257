"""Bad input and limits. Each case is answered (an error reply, a phx_error, a system
message, a close or an HTTP status) while the server stays up: after each, other
clients are still served."""
import asyncio
import json

import pytest
import websockets

from support.pg import wait_until
from support.phoenix import PhoenixClient, assert_serves, join_config, run, unique_topic
from support.rawws import RawWebSocket


async def bystander(relay, vsn="1.0.0"):
    """A client in its own channel, to check later that it was not disturbed."""
    c = await PhoenixClient.open(relay, vsn)
    topic = unique_topic("bystander")
    await c.join(topic, join_config(self=True))
    return c, topic


async def still_fine(client, topic):
    await client.broadcast(topic, "still-fine", {})
    msg = await client.expect_event(topic, "broadcast")
    assert msg["payload"]["event"] == "still-fine"


def phx_error(client):
    return client.expect(lambda m: m["event"] == "phx_error" and m["topic"] == "phoenix", what="phx_error")


BAD_TEXT = {
    "1.0.0": ["{not json", "", "[1,2", "[]", '["1","1","phoenix","heartbeat",{}]', '{"topic":"phoenix"}',
              '{"topic":1,"event":"heartbeat","payload":{},"ref":"1"}', '"just a string"', "null",
              '{"topic":"phoenix","event":"heartbeat","payload":{},"ref":{"x":1}}'],
    "2.0.0": ["{not json", "", '{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"1"}',
              '[null,"1","phoenix","heartbeat"]', '[null,"1",7,"heartbeat",{}]', '[null,[],"phoenix","heartbeat",{}]',
              "[]", "null", "\"x\""],
}


def test_malformed_text_frames(relay, vsn):
    async def body():
        other, topic = await bystander(relay)
        c = await PhoenixClient.open(relay, vsn)
        for text in BAD_TEXT[vsn]:
            await c.send_raw(text)
            err = await phx_error(c)
            assert isinstance(err["payload"]["reason"], str) and err["payload"]["reason"], text
        # The socket itself keeps working, as does everyone else.
        assert (await c.heartbeat())["status"] == "ok"
        await still_fine(other, topic)
        await assert_serves(relay)
    run(body())


def test_invalid_utf8_closes_only_that_socket(relay):
    async def body():
        other, topic = await bystander(relay)
        raw = RawWebSocket(relay.port, f"/socket/websocket?apikey={relay.token()}&vsn=1.0.0")
        raw.send_frame(0x1, b'{"topic":"\xff\xfe"}')
        _, code = raw.read_to_end(timeout=15)
        assert code == 1007
        raw.close()
        await still_fine(other, topic)
        await assert_serves(relay)
    run(body())


def broadcast_frame(vsn, topic, join_ref, payload_text):
    """A broadcast push whose user payload is payload_text exactly as written."""
    inner = f'{{"type":"broadcast","event":"s","payload":{payload_text}}}'
    if vsn == "2.0.0":
        return f'[{json.dumps(join_ref)},"5",{json.dumps(topic)},"broadcast",{inner}]'
    return f'{{"topic":{json.dumps(topic)},"event":"broadcast","payload":{inner},"ref":"5","join_ref":{json.dumps(join_ref)}}}'


def test_a_lone_surrogate_escape_is_refused_before_it_reaches_others(relay, vsn):
    """Found by fuzz_json: "\\udc00" alone decoded into bytes that are not UTF-8, which the
    relay sent on in text frames; every receiving client then had to close (1007)."""
    async def body():
        topic = unique_topic("utf16")
        c = await PhoenixClient.open(relay, vsn)
        peer = await PhoenixClient.open(relay, "1.0.0")
        assert (await c.join(topic, join_config(self=True)))["status"] == "ok"
        assert (await peer.join(topic, join_config()))["status"] == "ok"
        for text in ('{"s":"\\udc00"}', '{"\\ude00":1}', '{"s":["a\\udfffb"]}'):
            await c.send_raw(broadcast_frame(vsn, topic, c.join_refs[topic], text))
            assert "lone surrogate" in (await phx_error(c))["payload"]["reason"], text
        await peer.assert_silent(0.3, lambda m: m["event"] == "broadcast")
        # A surrogate pair is one character: delivered to both.
        await c.send_raw(broadcast_frame(vsn, topic, c.join_refs[topic], '{"s":"\\ud83d\\ude00"}'))
        for member in (peer, c):
            got = await member.expect_event(topic, "broadcast")
            assert got["payload"]["payload"] == {"s": "\U0001F600"}
        await assert_serves(relay)
    run(body())


def truncated_frames(topic):
    t, e = topic.encode(), b"ev"
    good = bytes([3, 1, 1, len(t), len(e), 0, 1]) + b"1" + b"2" + t + e + b"{}"
    return {
        "empty": b"",
        "kind-only": b"\x03",
        "short-header": bytes([3, 1, 1, len(t)]),
        "fields-past-end": bytes([3, 1, 1, 200, 2, 0, 1]) + b"12" + t,
        "topic-cut": good[:7 + 2 + len(t) // 2],
        "bad-encoding": bytes([3, 0, 0, len(t), len(e), 0, 9]) + t + e + b"{}",
        "bad-json-payload": bytes([3, 0, 0, len(t), len(e), 0, 1]) + t + e + b"{oops",
        "event-not-utf8": bytes([3, 0, 0, len(t), 2, 0, 1]) + t + b"\xff\xfe" + b"{}",
        "unknown-kind": bytes([9, 0, 0, 0, 0, 0, 0]),
        "server-kind": bytes([4, len(t), len(e), 0, 1]) + t + e + b"{}",
    }


@pytest.mark.parametrize("case", list(truncated_frames("realtime:x")))
def test_bad_binary_frames(relay, case):
    async def body():
        other, other_topic = await bystander(relay, "2.0.0")
        c = await PhoenixClient.open(relay, "2.0.0")
        peer = await PhoenixClient.open(relay, "2.0.0")
        topic = unique_topic()
        await c.join(topic, join_config(self=True))
        await peer.join(topic)
        await c.send_raw(truncated_frames(topic)[case])
        err = await phx_error(c)
        assert err["payload"]["reason"]
        # Nothing reached the channel, and a good binary push still works.
        await c.push_binary_broadcast(topic, "good", {"ok": 1})
        msg = await peer.expect_event(topic, "broadcast")
        assert msg["payload"]["event"] == "good"
        assert (await c.heartbeat())["status"] == "ok"
        await still_fine(other, other_topic)
    run(body())


def test_oversized_messages(relay_factory, vsn):
    """A WebSocket message over --max-frame-bytes closes the socket (1009), in one frame or
    in fragments; a payload over --max-payload-bytes in a smaller message is refused (an
    error reply with ack) and the socket stays."""
    relay = relay_factory(args=["--max-frame-bytes", "8192", "--max-payload-bytes", "4096"])

    async def body():
        other, topic = await bystander(relay)
        c = await PhoenixClient.open(relay, vsn)
        room = unique_topic()
        await c.join(room, join_config(self=True, ack=True))
        ref = await c.broadcast(room, "fits", {"x": "a" * 3000})
        assert (await c.reply(ref, room))["payload"]["status"] == "ok"
        assert (await c.expect_event(room, "broadcast"))["payload"]["payload"]["x"] == "a" * 3000
        # Over the payload limit, within the frame limit: refused, nothing delivered.
        ref = await c.broadcast(room, "too-big", {"x": "a" * 6000})
        assert (await c.reply(ref, room))["payload"] == {"status": "error", "response": "payload_size_exceeded"}
        await c.assert_silent(0.5, lambda m: m["event"] == "broadcast")
        # Over the frame limit: the socket is closed with 1009.
        await c.broadcast(room, "far-too-big", {"x": "a" * 10000})
        assert await c.wait_closed() == 1009

        raw = RawWebSocket(relay.port, f"/socket/websocket?apikey={relay.token()}&vsn=1.0.0")
        for _ in range(5):
            raw.send_frame(0x1 if _ == 0 else 0x0, b" " * 2000, fin=False)
        _, code = raw.read_to_end(timeout=15)
        assert code == 1009
        raw.close()

        await still_fine(other, topic)
        await assert_serves(relay)
        assert relay.metrics()["realtime_protocol_errors_total"] >= 2
    run(body())


def test_wrong_vsn_refused(relay):
    status, body = relay.upgrade(f"apikey={relay.token()}&vsn=3.0.0")
    assert status == 400 and "vsn" in body["error"]

    async def body_():
        with pytest.raises(websockets.InvalidStatusCode) as err:
            await websockets.connect(relay.url(vsn="0.9"), open_timeout=10)
        assert err.value.status_code == 400
        await assert_serves(relay)
    run(body_())


def test_unknown_path_refused(relay):
    status, body = relay.upgrade(f"apikey={relay.token()}", path="/socket/other")
    assert status == 404


def test_join_flood(relay_factory, vsn):
    relay = relay_factory(args=["--max-joins-per-second", "5"])

    async def body():
        other, topic = await bystander(relay)
        c = await PhoenixClient.open(relay, vsn)
        topics = [unique_topic("flood") for _ in range(30)]
        refs = []
        started = asyncio.get_running_loop().time()
        for t in topics:
            ref = c.next_ref()
            c.join_refs[t] = ref
            await c.push(t, "phx_join", {"config": join_config()}, join_ref=ref, ref=ref)
            refs.append(ref)
        replies = [(await c.reply(ref, t))["payload"] for ref, t in zip(refs, topics)]
        elapsed = asyncio.get_running_loop().time() - started
        ok = [r for r in replies if r["status"] == "ok"]
        refused = [r for r in replies if r["status"] != "ok"]
        # A burst of 5, then 5 per second for as long as the flood lasted.
        assert 5 <= len(ok) <= 5 + 5 * elapsed + 1 and refused, (elapsed, replies)
        for r in refused:
            assert r == {"status": "error", "response": {
                "reason": "ClientJoinRateLimitReached: Too many joins per second"}}
        assert relay.metrics()["realtime_rate_limited_total"] >= len(refused)
        await still_fine(other, topic)
        # The flooder itself recovers once the rate allows.
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            reply = await c.join(unique_topic("later"))
            if reply["status"] == "ok":
                break
            assert asyncio.get_running_loop().time() < deadline, reply
            await asyncio.sleep(0.2)
    run(body())


def test_too_many_channels(relay_factory, vsn):
    relay = relay_factory(args=["--max-channels-per-client", "3"])

    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topics = [unique_topic() for _ in range(3)]
        for t in topics:
            assert (await c.join(t))["status"] == "ok"
        reply = await c.join(unique_topic())
        assert reply == {"status": "error", "response": {"reason": "ChannelRateLimitReached: Too many channels"}}
        # Joining one of its channels again is a replacement, not a new channel.
        assert (await c.join(topics[0]))["status"] == "ok"
        # Another connection has its own allowance.
        d = await PhoenixClient.open(relay, vsn)
        assert (await d.join(unique_topic()))["status"] == "ok"
        # After a leave there is room again.
        await c.leave(topics[1])
        assert (await c.join(unique_topic()))["status"] == "ok"
        await assert_serves(relay)
    run(body())


def test_message_flood(relay_factory, vsn):
    relay = relay_factory(args=["--max-events-per-second", "10"])

    async def body():
        other, topic = await bystander(relay)
        c = await PhoenixClient.open(relay, vsn)
        watcher = await PhoenixClient.open(relay, vsn)
        room = unique_topic()
        await c.join(room)
        await watcher.join(room)
        join_ref = c.join_refs[room]
        for i in range(200):
            await c.broadcast(room, "spam", {"i": i})
        msg = await c.expect_event(room, "system")
        assert msg["payload"]["status"] == "error"
        assert msg["payload"]["message"] == "Too many messages per second"
        close = await c.expect_event(room, "phx_close")
        assert close["ref"] == join_ref
        # Fewer than all of it went through, and the rest was not delivered.
        got = 0
        try:
            while True:
                await watcher.expect_event(room, "broadcast", timeout=0.5)
                got += 1
        except TimeoutError:
            pass
        assert 1 <= got < 200
        assert relay.metrics()["realtime_rate_limited_total"] >= 1
        await still_fine(other, topic)
        await assert_serves(relay)
    run(body())


def test_client_that_never_reads(relay_factory):
    """A client that stops reading is disconnected once its send queue passes
    --max-send-queue-bytes; the relay's memory stays bounded and others are served."""
    limit = 256 * 1024
    relay = relay_factory(args=["--max-send-queue-bytes", str(limit), "--max-events-per-second", "100000",
                                "--max-payload-bytes", str(1 << 20)])

    async def body():
        other, other_topic = await bystander(relay)
        room = unique_topic("slow")
        raw = RawWebSocket(relay.port, f"/socket/websocket?apikey={relay.token()}&vsn=1.0.0", rcvbuf=4096)
        raw.send_text(json.dumps({"topic": room, "event": "phx_join", "ref": "1", "join_ref": "1",
                                  "payload": {"config": join_config()}}))
        sender = await PhoenixClient.open(relay, "2.0.0")
        await sender.join(room)
        wait_until(lambda: relay.health()["connections"] == 3 and relay.metrics()["realtime_channels"] == 2,
                   timeout=10, what="the raw client to join")
        rss_before = relay.rss_kb()

        # 48 MB at the reader that never reads: without a bound on its queue the relay
        # would have to hold nearly all of it.
        chunk = "x" * (16 * 1024)
        sent = 3000
        for i in range(sent):
            await sender.broadcast(room, "bulk", {"i": i, "data": chunk})
        wait_until(lambda: relay.metrics()["realtime_slow_client_disconnects_total"] == 1, timeout=30,
                   what="the slow client to be disconnected")
        rss_after = relay.rss_kb()
        growth_mb = (rss_after - rss_before) / 1024
        assert growth_mb < 16, f"relay RSS grew by {growth_mb:.1f} MB for a client that never reads"

        read, code = raw.read_to_end(timeout=30)
        raw.close()
        assert read < sent * len(chunk)  # it did not get everything: it was cut off
        assert code in (None, 1008)
        wait_until(lambda: relay.health()["connections"] == 2, timeout=10, what="the slow connection to go")
        await still_fine(other, other_topic)
        await assert_serves(relay)
    run(body(), timeout=180)


def test_max_connections(relay_factory):
    relay = relay_factory(args=["--max-connections", "3"])

    async def body():
        clients = [await PhoenixClient.open(relay, "2.0.0") for _ in range(3)]
        status, body_ = relay.upgrade(f"apikey={relay.token()}&vsn=2.0.0")
        assert status == 429 and body_ == {"error": "Too many connected users"}
        with pytest.raises(websockets.InvalidStatusCode) as err:
            await websockets.connect(relay.url(vsn="2.0.0"), open_timeout=10)
        assert err.value.status_code == 429
        # Those connected are unaffected; a slot frees when one leaves.
        assert (await clients[0].heartbeat())["status"] == "ok"
        await clients[1].close()
        wait_until(lambda: relay.health()["connections"] == 2, timeout=10, what="a connection slot to free")
        c = await PhoenixClient.open(relay, "2.0.0")
        assert (await c.heartbeat())["status"] == "ok"
    run(body())
