"""JSON nesting (issue 10, item 1): every JSON text the relay parses (frames of both
versions, binary kind 3 payloads, HTTP bodies, tokens, plugin documents) is refused
past 128 levels of arrays and objects, while parsing and without recursion, with a
clear error; the socket and the server stay up. A frame of 150 000 nested arrays used
to overflow the parser's stack, and a broadcast nested 90 000 deep crashed the relay
when it wrote the payload out again.

JSON texts are built as strings here: Python's own json module recurses too."""
import base64
import hashlib
import hmac
import json

from support.cluster import start_cluster, warm_up
from support.phoenix import PhoenixClient, assert_serves, join_config, run, unique_topic

LIMIT = 128


def nested(depth, inner="1"):
    return "[" * depth + inner + "]" * depth


def nested_object(depth):
    return '{"a":' * depth + "1" + "}" * depth


def text_frame(vsn, topic, event, payload_text, ref="9", join_ref=None):
    jr = json.dumps(join_ref)
    if vsn == "2.0.0":
        return f'[{jr},"{ref}",{json.dumps(topic)},{json.dumps(event)},{payload_text}]'
    return (f'{{"topic":{json.dumps(topic)},"event":{json.dumps(event)},"payload":{payload_text},'
            f'"ref":"{ref}","join_ref":{jr}}}')


def broadcast_payload(inner_text):
    return f'{{"type":"broadcast","event":"deep","payload":{inner_text}}}'


async def phx_error(client):
    msg = await client.expect(lambda m: m["event"] == "phx_error" and m["topic"] == "phoenix", what="phx_error")
    return msg["payload"]["reason"]


async def members(relay, vsn, topic):
    sender = await PhoenixClient.open(relay, vsn)
    assert (await sender.join(topic, join_config(self=True)))["status"] == "ok"
    peer = await PhoenixClient.open(relay, "1.0.0")
    assert (await peer.join(topic, join_config()))["status"] == "ok"
    return sender, peer


def test_a_frame_of_150000_nested_arrays_is_refused(relay, vsn):
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        frame = nested(150_000)
        assert len(frame) > 300_000
        await c.send_raw(frame)
        reason = await phx_error(c)
        assert f"nesting deeper than {LIMIT} levels" in reason, reason
        # Objects too, and the same inside a well-formed frame's payload.
        await c.send_raw(text_frame(vsn, "phoenix", "heartbeat", nested_object(5000)))
        assert "nesting" in await phx_error(c)
        assert (await c.heartbeat())["status"] == "ok"
        await assert_serves(relay)
        assert relay.health() is not None
    run(body())


def test_a_broadcast_nested_90000_deep_is_refused_and_one_within_the_limit_is_delivered(relay, vsn):
    async def body():
        topic = unique_topic("deep")
        sender, peer = await members(relay, vsn, topic)
        join_ref = sender.join_refs[topic]
        await sender.send_raw(text_frame(vsn, topic, "broadcast", broadcast_payload(nested(90_000)),
                                         join_ref=join_ref))
        assert "nesting" in await phx_error(sender)
        if vsn == "2.0.0":  # the same payload as a binary kind 3 push
            t, e, body_bytes = topic.encode(), b"deep", nested(90_000).encode()
            jr = join_ref.encode()
            await sender.send_raw(bytes([3, len(jr), 1, len(t), len(e), 0, 1]) + jr + b"7" + t + e + body_bytes)
            assert "nesting" in await phx_error(sender)
        # Within the limit (the envelope counts): delivered intact, to others and to self.
        depth = LIMIT - 4
        await sender.send_raw(text_frame(vsn, topic, "broadcast", broadcast_payload(nested(depth)),
                                         join_ref=join_ref))
        for c in (peer, sender):
            got = await c.expect_event(topic, "broadcast", where=lambda p: p["event"] == "deep")
            assert json.dumps(got["payload"]["payload"], separators=(",", ":")) == nested(depth)
        await peer.assert_silent(0.3, lambda m: m["event"] == "broadcast")
        assert (await sender.heartbeat())["status"] == "ok"
        await assert_serves(relay)
    run(body())


def test_a_deep_presence_meta_is_refused(relay):
    async def body():
        topic = unique_topic("deep")
        c = await PhoenixClient.open(relay)
        assert (await c.join(topic, join_config(presence=True)))["status"] == "ok"
        payload = f'{{"type":"presence","event":"track","payload":{{"m":{nested(90_000)}}}}}'
        await c.send_raw(text_frame("1.0.0", topic, "presence", payload, join_ref=c.join_refs[topic]))
        assert "nesting" in await phx_error(c)
        assert (await c.track(topic, {"ok": nested(10)}))["status"] == "ok"
        await assert_serves(relay)
    run(body())


def test_http_bodies_nested_too_deep_get_422(relay):
    auth = {"Authorization": f"Bearer {relay.token()}", "Content-Type": "application/json"}
    body = ('{"messages":[{"topic":"room","event":"e","payload":' + nested(90_000) + "}]}").encode()
    status, answer = relay.http("/api/broadcast", "POST", body, auth)
    assert status == 422 and "nesting" in answer["message"], (status, answer)
    status, answer = relay.http("/api/broadcast/room/events/e", "POST", nested(150_000).encode(), auth)
    assert status == 422 and "nesting" in answer["message"], (status, answer)
    assert relay.health() is not None
    status, _ = relay.broadcast_http([{"topic": "room", "event": "e", "payload": {"fine": [[[1]]]}}])
    assert status == 202


def deep_token(relay, depth):
    """A token signed with the relay's secret whose claims are nested depth deep."""
    def b64(raw):
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    claims = b64(('{"role":"anon","exp":9999999999,"x":' + nested(depth) + "}").encode())
    sig = hmac.new(relay.secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(sig)}"


def test_a_token_nested_too_deep_is_malformed(relay):
    async def body():
        c = await PhoenixClient.open(relay)
        topic = unique_topic("tok")
        reply = await c.join(topic, join_config(), access_token=deep_token(relay, 150_000))
        assert reply["status"] == "error", reply
        assert "not a valid JWT" in reply["response"]["reason"], reply
        # At connect (a URL argument holds 4 KB: a thousand levels).
        status, answer = relay.upgrade(f"apikey={deep_token(relay, 1200)}&vsn=1.0.0")
        assert status == 401 and "not a valid JWT" in answer["error"], (status, answer)
        assert (await c.heartbeat())["status"] == "ok"
        await assert_serves(relay)
    run(body())


def test_the_same_through_the_mesh(relay_factory):
    """A node refuses the deep broadcast before it reaches the mesh; one within the limit
    crosses to the other node intact (mesh frames carry it as bytes, never parsed)."""
    cluster = start_cluster(relay_factory, ["a", "b"])

    async def body():
        topic = unique_topic("deep")
        sender = await PhoenixClient.open(cluster["a"], "2.0.0")
        assert (await sender.join(topic, join_config()))["status"] == "ok"
        far = await PhoenixClient.open(cluster["b"], "1.0.0")
        assert (await far.join(topic, join_config()))["status"] == "ok"
        await warm_up(sender, topic, [far])
        jr = sender.join_refs[topic]
        await sender.send_raw(text_frame("2.0.0", topic, "broadcast", broadcast_payload(nested(90_000)),
                                         join_ref=jr))
        assert "nesting" in await phx_error(sender)
        depth = LIMIT - 4
        await sender.send_raw(text_frame("2.0.0", topic, "broadcast", broadcast_payload(nested(depth)),
                                         join_ref=jr))
        got = await far.expect_event(topic, "broadcast", where=lambda p: p["event"] == "deep")
        assert json.dumps(got["payload"]["payload"], separators=(",", ":")) == nested(depth)
        await far.assert_silent(0.3, lambda m: m["event"] == "broadcast")
        for r in cluster:
            await assert_serves(r)
    run(body())


def test_records_are_passed_on_as_postgres_wrote_them(db, client_roles, relay_factory):
    """The relay reads plugin documents as raw spans (only their small fields are parsed),
    so a jsonb value nested deeper than the relay's limit reaches the client intact."""
    db.execute("CREATE TABLE public.docs (id int PRIMARY KEY, body jsonb);"
               "GRANT SELECT ON public.docs TO anon")
    relay = relay_factory(db_dsn=db.dsn).wait_slot()
    depth = 400  # past the relay's 128, within what Python's json reads back

    async def body():
        c = await PhoenixClient.open(relay)
        topic = unique_topic("docs")
        changes = [{"event": "INSERT", "schema": "public", "table": "docs"}]
        assert (await c.join(topic, join_config(changes=changes)))["status"] == "ok"
        await c.expect_event(topic, "system", timeout=20)
        db.execute("INSERT INTO public.docs VALUES (1, %s::jsonb)", (nested(depth),))
        msg = await c.expect_event(topic, "postgres_changes", timeout=15)
        record = msg["payload"]["data"]["record"]
        assert json.dumps(record["body"], separators=(",", ":")) == nested(depth)
        await assert_serves(relay)
    run(body())
