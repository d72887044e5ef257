"""Broadcast across the mesh: a client's broadcast on one node reaches members on every
other node (self and ack as on one node, binary frames too), one sender's messages keep
their order, HTTP and SQL broadcasts reach every node, and only nodes with members of a
channel receive its messages."""
import time

import pytest

from support.cluster import start_cluster, warm_up
from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run, unique_topic

LIMITS = ["--max-events-per-second", "2000"]


async def open_members(cluster, topic, nodes, vsn="1.0.0", config=None):
    clients = []
    for n in nodes:
        c = await PhoenixClient.open(cluster[n], vsn)
        reply = await c.join(topic, config or join_config())
        assert reply["status"] == "ok", reply
        clients.append(c)
    return clients


def test_client_broadcast_reaches_other_nodes_not_self(relay_factory):
    cluster = start_cluster(relay_factory, ["a", "b", "c"], args=LIMITS)

    async def body():
        topic = unique_topic()
        sender = await PhoenixClient.open(cluster["a"], "1.0.0")
        assert (await sender.join(topic, join_config(self=False, ack=True)))["status"] == "ok"
        # A neighbour on the sender's node, and members of each protocol version elsewhere.
        near = (await open_members(cluster, topic, ["a"]))[0]
        b1, c1 = await open_members(cluster, topic, ["b", "c"], "1.0.0")
        b2, c2 = await open_members(cluster, topic, ["b", "c"], "2.0.0")
        receivers = [near, b1, c1, b2, c2]
        await warm_up(sender, topic, receivers)

        ref = await sender.broadcast(topic, "hello", {"from": "a", "n": 1})
        # ack: the sender's node answers the push once it has taken the message.
        assert (await sender.reply(ref, topic))["payload"] == {"status": "ok", "response": {}}
        for c in receivers:
            got = await c.expect_event(topic, "broadcast", where=lambda p: p["event"] == "hello")
            assert got["payload"] == {"type": "broadcast", "event": "hello", "payload": {"from": "a", "n": 1}}
        # self false: nothing comes back to the sender (its heartbeat reply comes after
        # anything queued to it before).
        await sender.heartbeat()
        await sender.assert_silent(0.3, lambda m: m["event"] == "broadcast")

        # A binary (kind 3) push from a vsn 2.0.0 sender on B: kind 4 to vsn 2 members on
        # the other nodes, JSON to vsn 1 members.
        await warm_up(b2, topic, [c1, c2, near])
        await b2.push_binary_broadcast(topic, "bin", {"x": [1, 2]})
        got = await c2.expect_event(topic, "broadcast", where=lambda p: p["event"] == "bin")
        assert got.get("binary") and got["payload"]["payload"] == {"x": [1, 2]}
        got = await c1.expect_event(topic, "broadcast", where=lambda p: p["event"] == "bin")
        assert got["payload"]["payload"] == {"x": [1, 2]} and not got.get("binary")
        got = await near.expect_event(topic, "broadcast", where=lambda p: p["event"] == "bin")
        assert got["payload"]["payload"] == {"x": [1, 2]}
        # The sender on B did not ask for self.
        await b2.heartbeat()
        assert not [m for m in b2.inbox if m["event"] == "broadcast" and m["payload"]["event"] == "bin"]
        for c in [sender] + receivers:
            await c.close()
    run(body())


def test_self_true_sender_gets_its_message_once(relay_factory):
    cluster = start_cluster(relay_factory, ["a", "b"], args=LIMITS)

    async def body():
        topic = unique_topic()
        sender = await PhoenixClient.open(cluster["a"], "2.0.0")
        assert (await sender.join(topic, join_config(self=True)))["status"] == "ok"
        (other,) = await open_members(cluster, topic, ["b"])
        await warm_up(sender, topic, [other])
        sender.inbox.clear()
        await sender.broadcast(topic, "mine", {"k": 1})
        await other.expect_event(topic, "broadcast", where=lambda p: p["event"] == "mine")
        await sender.expect_event(topic, "broadcast", where=lambda p: p["event"] == "mine")
        # Not a second copy through the mesh.
        await sender.assert_silent(0.5, lambda m: m["event"] == "broadcast" and m["payload"]["event"] == "mine")
        for c in (sender, other):
            await c.close()
    run(body())


def test_per_sender_order_across_nodes(relay_factory):
    cluster = start_cluster(relay_factory, ["a", "b", "c"], args=LIMITS)
    count = 200

    async def body():
        topic = unique_topic("order")
        sender = await PhoenixClient.open(cluster["a"], "2.0.0")
        assert (await sender.join(topic, join_config(ack=False)))["status"] == "ok"
        receivers = await open_members(cluster, topic, ["b", "c", "a"], "2.0.0")
        await warm_up(sender, topic, receivers)
        for i in range(count):
            await sender.broadcast(topic, "seq", {"i": i})
        for c in receivers:
            seen = []
            while len(seen) < count:
                msg = await c.expect_event(topic, "broadcast", timeout=20, where=lambda p: p["event"] == "seq")
                seen.append(msg["payload"]["payload"]["i"])
            assert seen == list(range(count)), f"out of order or missing: {seen[:20]}..."
        for c in [sender] + receivers:
            await c.close()
    run(body())


def test_http_broadcast_reaches_every_node(relay_factory):
    cluster = start_cluster(relay_factory, ["a", "b", "c"], args=LIMITS)

    async def body():
        name = unique_topic("http")[len("realtime:"):]
        topic = "realtime:" + name
        members = await open_members(cluster, topic, ["a", "c"], "1.0.0")
        members += await open_members(cluster, topic, ["a", "c"], "2.0.0")
        # The routes from B to A and C exist once a client broadcast on B reaches them.
        prober = await PhoenixClient.open(cluster["b"], "1.0.0")
        assert (await prober.join(topic))["status"] == "ok"
        await warm_up(prober, topic, [m for m in members])
        status, _ = cluster["b"].broadcast_http([{"topic": name, "event": "from-http", "payload": {"v": 7}}])
        assert status == 202
        for c in members + [prober]:
            got = await c.expect_event(topic, "broadcast", where=lambda p: p["event"] == "from-http")
            assert got["payload"]["payload"] == {"v": 7}
        # B without a member of the channel still publishes what it is sent over HTTP.
        await prober.leave(topic)
        await prober.close()
        wait_until(lambda: cluster["b"].health()["channels"] == 0, timeout=10, what="B to drop the channel")
        status, _ = cluster["b"].broadcast_http([{"topic": name, "event": "no-member", "payload": {"v": 8}}])
        assert status == 202
        for c in members:
            got = await c.expect_event(topic, "broadcast", where=lambda p: p["event"] == "no-member")
            assert got["payload"]["payload"] == {"v": 8}
        for c in members:
            await c.close()
    run(body())


def test_large_payload_crosses_the_mesh(relay_factory):
    cluster = start_cluster(relay_factory, ["a", "b"], args=LIMITS)

    async def body():
        topic = unique_topic("big")
        sender = await PhoenixClient.open(cluster["a"], "2.0.0")
        assert (await sender.join(topic))["status"] == "ok"
        receivers = await open_members(cluster, topic, ["b"], "1.0.0")
        receivers += await open_members(cluster, topic, ["b"], "2.0.0")
        await warm_up(sender, topic, receivers)
        blob = {"text": "é" * 1000 + "x" * 300_000, "list": list(range(20_000))}  # ~0.45 MB as sent
        await sender.broadcast(topic, "big-json", blob)
        await sender.push_binary_broadcast(topic, "big-bin", bytes(range(256)) * 2000, json_encoding=False)
        for c in receivers:
            got = await c.expect_event(topic, "broadcast", where=lambda p: p["event"] == "big-json")
            assert got["payload"]["payload"] == blob
        got = await receivers[1].expect_event(topic, "broadcast", where=lambda p: p["event"] == "big-bin")
        assert got.get("binary") and got["payload"]["payload"] == bytes(range(256)) * 2000
        for c in [sender] + receivers:
            await c.close()
    run(body())


def test_sql_broadcast_reaches_members_on_every_node(relay_factory, db, slot):
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot, args=LIMITS)
    holder = cluster.holder()

    async def body():
        name = unique_topic("sql")[len("realtime:"):]
        topic = "realtime:" + name
        members = await open_members(cluster, topic, ["a", "b", "c"], "1.0.0")
        members += await open_members(cluster, topic, ["a", "b", "c"], "2.0.0")
        # The holder publishes SQL broadcasts on the mesh: wait for its routes.
        prober = await PhoenixClient.open(holder, "1.0.0")
        assert (await prober.join(topic))["status"] == "ok"
        await warm_up(prober, topic, [m for m in members])
        db.execute("SELECT realtime.broadcast(%s, 'from-sql', '{\"s\": 1}')", (name,))
        # Rolled back: never delivered; the committed marker after it shows nothing else comes.
        conn = db.connect(autocommit=False)
        with conn.cursor() as cur:
            cur.execute("SELECT realtime.broadcast(%s, 'rolled-back', '{}')", (name,))
        conn.rollback()
        conn.close()
        db.execute("SELECT realtime.broadcast(%s, 'marker', '{}')", (name,))
        for c in members:
            got = await c.expect_event(topic, "broadcast", timeout=15, where=lambda p: p["event"] == "from-sql")
            assert got["payload"]["payload"] == {"s": 1}
            assert len(got["payload"]["meta"]["id"]) == 36
            nxt = await c.expect_event(topic, "broadcast", timeout=15,
                                       where=lambda p: p["event"] in ("marker", "rolled-back", "from-sql"))
            assert nxt["payload"]["event"] == "marker", nxt
        for c in members + [prober]:
            await c.close()
    run(body())


def test_only_nodes_with_members_receive_a_channel(relay_factory):
    """C has no member of the channel: A's messages on it never reach C's mesh socket
    (ZeroMQ filters at the publisher), while B gets every one. C joins: it gets them too;
    C leaves: they stop again."""
    hb_ms = 500
    cluster = start_cluster(relay_factory, ["a", "b", "c"], args=LIMITS + ["--heartbeat-ms", str(hb_ms)])
    a, b, c = cluster["a"], cluster["b"], cluster["c"]
    burst = 300

    def received(relay):
        return relay.metrics()["realtime_mesh_received_total"]

    def noise_bound(seconds):
        # What C may receive meanwhile without the channel: heartbeats of two peers
        # (and a few presence/snapshot messages), generously.
        return 2 * (seconds * 1000 / hb_ms + 2) * 1.5 + 10

    async def send_burst(sender, topic, receivers, tag):
        before = {r.node_id: received(r) for r in (b, c)}
        t0 = time.monotonic()
        for i in range(burst):
            await sender.broadcast(topic, tag, {"i": i})
        for rc in receivers:
            for _ in range(burst):
                await rc.expect_event(topic, "broadcast", timeout=20, where=lambda p: p["event"] == tag)
        elapsed = time.monotonic() - t0
        return {n: received(r) - before[n] for n, r in (("b", b), ("c", c))}, elapsed

    async def body():
        topic = unique_topic("route")
        sender = await PhoenixClient.open(a, "2.0.0")
        assert (await sender.join(topic))["status"] == "ok"
        (on_b,) = await open_members(cluster, topic, ["b"], "2.0.0")
        await warm_up(sender, topic, [on_b])

        delta, elapsed = await send_burst(sender, topic, [on_b], "one")
        assert delta["b"] >= burst, delta
        assert delta["c"] < min(burst / 2, noise_bound(elapsed)), (delta, elapsed)

        # C gets a member: now it receives the channel too.
        (on_c,) = await open_members(cluster, topic, ["c"], "2.0.0")
        await warm_up(sender, topic, [on_b, on_c])
        delta, elapsed = await send_burst(sender, topic, [on_b, on_c], "two")
        assert delta["b"] >= burst and delta["c"] >= burst, delta

        # Its member leaves: C unsubscribes and stops receiving.
        await on_c.leave(topic)
        await on_c.close()
        deadline = time.monotonic() + 10
        while True:  # the unsubscription reaches A asynchronously
            delta, elapsed = await send_burst(sender, topic, [on_b], "three")
            if delta["c"] < min(burst / 2, noise_bound(elapsed)) or time.monotonic() > deadline:
                break
        assert delta["b"] >= burst, delta
        assert delta["c"] < min(burst / 2, noise_bound(elapsed)), (delta, elapsed)

        # A member of a topic whose name extends this one's does not pull it to C.
        longer = await PhoenixClient.open(c, "2.0.0")
        assert (await longer.join(topic + "0"))["status"] == "ok"
        longer_sender = await PhoenixClient.open(a, "2.0.0")
        assert (await longer_sender.join(topic + "0"))["status"] == "ok"
        await warm_up(longer_sender, topic + "0", [longer])
        delta, elapsed = await send_burst(sender, topic, [on_b], "four")
        assert delta["c"] < min(burst / 2, noise_bound(elapsed)), (delta, elapsed)

        # C joins again: it receives the channel, and what it did not subscribe to
        # meanwhile is not counted as lost.
        (again,) = await open_members(cluster, topic, ["c"], "2.0.0")
        await warm_up(sender, topic, [on_b, again])
        delta, elapsed = await send_burst(sender, topic, [on_b, again], "five")
        assert delta["c"] >= burst, delta
        for r in (b, c):
            assert r.metrics()["realtime_mesh_dropped_total"] == 0, r.node_id
        for x in (sender, on_b, longer, longer_sender, again):
            await x.close()
    run(body())


def test_first_broadcast_after_join_reply_is_delivered(relay_factory):
    cluster = start_cluster(relay_factory, ["a", "b"],
                            args=["--max-events-per-second", "100000", "--max-joins-per-second", "100000"])
    trials = 100

    async def body():
        sender = await PhoenixClient.open(cluster["a"], "2.0.0")
        receiver = await PhoenixClient.open(cluster["b"], "2.0.0")
        lost = 0
        for i in range(trials):
            topic = unique_topic("race")
            assert (await sender.join(topic))["status"] == "ok"
            assert (await receiver.join(topic))["status"] == "ok"
            await sender.broadcast(topic, "first", {"i": i})
            try:
                await receiver.expect_event(topic, "broadcast", timeout=1)
            except TimeoutError:
                lost += 1
                break
            await receiver.leave(topic)
            await sender.leave(topic)
        assert lost == 0, f"the first broadcast of trial {i} was lost"
        await sender.close()
        await receiver.close()
    run(body(), timeout=240)
