"""A private channel across the mesh: its members on two nodes get each other's
broadcasts and presence, broadcasts from SQL and from the REST API on either node, and a
replay at join on the node that does not hold the slot; the public channel of the same
name, with members on both nodes, gets none of it (the routing keys keep them apart)."""
from support.cluster import start_cluster
from support.phoenix import PhoenixClient, join_config, run, unique_topic

POLICIES = """
CREATE POLICY "room read {t}" ON realtime.messages FOR SELECT TO authenticated
  USING ((SELECT realtime.topic()) = '{t}');
CREATE POLICY "room write {t}" ON realtime.messages FOR INSERT TO authenticated
  WITH CHECK ((SELECT realtime.topic()) = '{t}');
"""


def private(**kw):
    return join_config(private=True, **kw)


async def member(relay, topic, config, token=None):
    c = await PhoenixClient.open(relay, "2.0.0", token=token)
    reply = await c.join(topic, config)
    assert reply["status"] == "ok", reply
    return c


def test_private_channel_across_two_nodes(app_db, slot, relay_factory):
    cluster = start_cluster(relay_factory, ["a", "b"], db_dsn=app_db.dsn, slot=slot,
                            args=["--max-events-per-second", "1000"])
    holder = cluster.holder()
    other = cluster["b"] if holder is cluster["a"] else cluster["a"]
    topic = unique_topic()
    name = topic.split(":", 1)[1]
    app_db.execute(POLICIES.format(t=name))
    token = holder.token(role="authenticated", sub="11111111-1111-4111-8111-111111111111")

    async def body():
        near = await member(holder, topic, private(presence=True), token)
        far = await member(other, topic, private(presence=True), token)
        public_far = await member(other, topic, join_config(presence=True))
        public_near = await member(holder, topic, join_config(presence=True))
        for c in (near, far, public_far, public_near):
            await c.expect_event(topic, "presence_state")

        await near.broadcast(topic, "from-near", {"n": 1})
        assert (await far.expect_event(topic, "broadcast"))["payload"]["payload"] == {"n": 1}
        await far.broadcast(topic, "from-far", {"n": 2})
        assert (await near.expect_event(topic, "broadcast"))["payload"]["payload"] == {"n": 2}

        app_db.execute("SELECT realtime.send('{\"n\": 3}'::jsonb, 'from-sql', %s)", (name,))
        for c in (near, far):
            got = (await c.expect_event(topic, "broadcast", timeout=15))["payload"]
            assert got["event"] == "from-sql" and got["meta"]["id"] == got["payload"]["id"]

        status, _ = other.broadcast_http([{"topic": name, "event": "from-http", "payload": {"n": 4}, "private": True}],
                                         token=token)
        assert status == 202
        assert (await near.expect_event(topic, "broadcast"))["payload"]["event"] == "from-http"

        assert (await far.track(topic, {"who": "far"}))["status"] == "ok"
        diff = (await near.expect_event(topic, "presence_diff"))["payload"]
        assert [m["who"] for k in diff["joins"] for m in diff["joins"][k]["metas"]] == ["far"]

        # Replay on the node that does not hold the slot: the SQL message, then live ones.
        late = await member(other, topic, dict(private(), broadcast={"replay": {"since": 0}}), token)
        replayed = (await late.expect_event(topic, "broadcast", timeout=15))["payload"]
        assert replayed["event"] == "from-sql" and replayed["meta"]["replayed"] is True
        await near.broadcast(topic, "after-replay", {"n": 5})
        assert (await late.expect_event(topic, "broadcast"))["payload"]["event"] == "after-replay"

        for c in (public_far, public_near):
            await c.assert_silent(0.5, lambda m: m["event"] in ("broadcast", "presence_diff"))
    run(body())
