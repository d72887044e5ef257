"""The inspector across the mesh (docs/inspector.md): one node's snapshot lists every
node (state, region, incarnation, which holds the slot) from the heartbeats, and its
channel endpoints put together every node's members, presence entries and
postgres_changes subscriptions, asked over the mesh (not by the caller of each node)."""
import urllib.parse

from support.cluster import FAST, start_cluster, subscribe_changes
from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run, unique_topic

ADMIN = "cluster-inspector-admin-token-0123456789"


def inspect(relay, what, **args):
    q = urllib.parse.urlencode(args)
    status, body = relay.http(f"/api/inspector/{what}" + (f"?{q}" if q else ""),
                              headers={"Authorization": f"Bearer {ADMIN}"})
    assert status == 200, (what, status, body)
    return body


def test_two_nodes_members_presence_and_subscriptions(relay_factory, items, slot):
    cluster = start_cluster(relay_factory, ["a", "b"], db_dsn=items.dsn, slot=slot,
                            args=FAST + ["--admin-token", ADMIN],
                            node_args={"a": ["--region", "eu"], "b": ["--region", "us"]})
    holder = cluster.holder()
    a, b = cluster["a"], cluster["b"]

    # Every node's snapshot shows both, with the slot holder, from the mesh.
    for r in (a, b):
        def both_listed():
            nodes = {n["node"]: n for n in inspect(r, "snapshot")["nodes"]}
            # (a peer is up from its first message, its region is known from its heartbeat)
            return set(nodes) == {"a", "b"} and all(n["state"] == "up" and n["region"] for n in nodes.values()) \
                and [n for n in nodes if nodes[n]["slot_holder"]] == [holder.node_id] and nodes
        nodes = wait_until(both_listed, timeout=15, what=f"{r.node_id} to list both nodes")
        assert nodes[r.node_id]["self"] and not nodes[{"a": "b", "b": "a"}[r.node_id]]["self"]
        assert nodes["a"]["region"] == "eu" and nodes["b"]["region"] == "us"
        assert all(len(n["incarnation"]) == 16 for n in nodes.values())

    async def body():
        topic = unique_topic("insp-cluster")
        on_a, _, sid = await subscribe_changes(a, topic=topic)  # anon, items, all events
        assert (await on_a.track(topic, {"who": "a-client"}))["status"] == "ok"
        on_b = await PhoenixClient.open(b, "2.0.0", token=b.token(role="authenticated", sub="user-b"))
        assert (await on_b.join(topic, join_config(presence=True, key="bkey")))["status"] == "ok"
        assert (await on_b.track(topic, {"who": "b-client"}))["status"] == "ok"
        await PhoenixClient.open(b)  # a connection on b, no channel

        for r in (a, b):  # the same answer from either node
            d = inspect(r, "channel", topic=topic)
            assert d["missing"] == [] and d["members"] == {"a": 1, "b": 1} and d["total"] == 2, d
            by_node = {m["node"]: m for m in d["member_list"]}
            assert by_node["a"]["role"] == "anon" and by_node["a"]["bindings"] == 1
            assert by_node["b"]["role"] == "authenticated" and by_node["b"]["sub"] == "user-b"
            assert by_node["b"]["vsn"] == "2.0.0" and by_node["b"]["presence_key"] == "bkey"
            [sub] = d["subscriptions"]
            assert (sub["event"], sub["schema"], sub["table"], sub["filter"], sub["role"]) == \
                ("*", "public", "items", "", "anon")
            assert sub["members"] == {"a": 1} and sub["live"] == 1
            assert d["presence"]["entries"] == 2
            assert sorted((p["node"], p["meta"]["who"]) for p in d["presence"]["list"]) == \
                [("a", "a-client"), ("b", "b-client")]

            ch = inspect(r, "channels", q=topic.split(":")[1])
            [row] = ch["list"]
            assert row["members"] == {"a": 1, "b": 1} and row["presence"] == 2 and row["bindings"] == 1
            assert set(ch["nodes"]) == {"a", "b"}

        # Gauges of the peers come in their heartbeats.
        def counted():
            nodes = {n["node"]: n for n in inspect(a, "snapshot")["nodes"]}
            return nodes["b"]["connections"] == 2 and nodes["a"]["subscriptions"] >= 1 and nodes
        wait_until(counted, timeout=10, what="b's connections in a's snapshot")
        assert str(sid)  # the subscription is the one the database knows
    run(body())


def test_a_node_that_does_not_answer_is_named_missing(relay_factory):
    cluster = start_cluster(relay_factory, ["a", "b"], args=FAST + ["--admin-token", ADMIN])
    b = cluster["b"]
    b.proc.send_signal(19)  # SIGSTOP: still up for a moment, but silent
    try:
        d = inspect(cluster["a"], "channels")
        assert d["missing"] == ["b"] and list(d["nodes"]) == ["a"], d
    finally:
        b.proc.send_signal(18)  # SIGCONT, so the fixture stops it
