"""Membership: a node started without --peers finds the running cluster through the
registry in Postgres (realtime.nodes) and they find it; a peer unreachable at start is
connected once it appears; health lists peers with their state; a stopped (SIGTERM) node
goes down and comes back."""
import time

from support.cluster import FAST, endpoint, peers, start_cluster, wait_mesh, wait_peer_state, warm_up
from support.pg import wait_until
from support.ports import free_port
from support.phoenix import PhoenixClient, join_config, run, unique_topic


async def exchange(x, y):
    """A broadcast from a client on relay x reaches a client on relay y, and back."""
    topic = unique_topic("pair")
    cx = await PhoenixClient.open(x, "2.0.0")
    cy = await PhoenixClient.open(y, "1.0.0")
    for c in (cx, cy):
        assert (await c.join(topic, join_config()))["status"] == "ok"
    await warm_up(cx, topic, [cy])
    await warm_up(cy, topic, [cx])
    await cx.broadcast(topic, "x->y", {"from": x.node_id})
    got = await cy.expect_event(topic, "broadcast", where=lambda p: p["event"] == "x->y")
    assert got["payload"]["payload"] == {"from": x.node_id}
    await cy.broadcast(topic, "y->x", {"from": y.node_id})
    got = await cx.expect_event(topic, "broadcast", where=lambda p: p["event"] == "y->x")
    assert got["payload"]["payload"] == {"from": y.node_id}
    await cx.close()
    await cy.close()


def test_health_lists_peers(relay_factory):
    cluster = start_cluster(relay_factory, ["a", "b", "c"])
    for r in cluster:
        # A peer is up from its first message; its endpoint comes with its heartbeats.
        wait_until(lambda: all(p["endpoint"] for p in peers(r).values()), timeout=10,
                   what=f"{r.node_id} to know its peers' endpoints")
        ps = peers(r)
        assert set(ps) == {"a", "b", "c"} - {r.node_id}
        for node, p in ps.items():
            assert p["state"] == "up"
            assert p["endpoint"] == cluster.endpoint(node)
            assert p["slot_holder"] is False
        h = r.health()
        assert h["node_id"] == r.node_id and h["slot_holder"] is False
        assert r.metrics()["realtime_peers_up"] == 2


def test_node_added_is_found_through_the_registry(relay_factory, db, slot):
    cluster = start_cluster(relay_factory, ["a", "b"], db_dsn=db.dsn, slot=slot)
    # d knows no peer: only the database.
    d = relay_factory(db_dsn=db.dsn, node_id="d",
                      args=["--cluster-bind", endpoint(free_port()), "--slot", slot])
    wait_until(lambda: db.scalar("SELECT count(*) FROM realtime.nodes WHERE node_id IN ('a','b','d') "
                                 "AND cluster_endpoint IS NOT NULL") == 3,
               timeout=15, what="the three nodes in realtime.nodes")
    assert db.scalar("SELECT cluster_endpoint FROM realtime.nodes WHERE node_id = 'a'") == cluster.endpoint("a")
    # Each side learns the other within a few registry beats (1 s each).
    wait_mesh([cluster["a"], cluster["b"], d], timeout=20)
    run(exchange(d, cluster["a"]))
    run(exchange(cluster["b"], d))


def test_peer_unreachable_at_start_connects_when_it_appears(relay_factory):
    pa, pb = free_port(), free_port()
    a = relay_factory(node_id="a", args=["--cluster-bind", endpoint(pa), "--peers", endpoint(pb)] + FAST)
    # Nothing listens on B's port yet: A serves on its own, and does not list B as up.
    time.sleep(0.5)  # not a correctness wait: give A a few failed dials
    assert peers(a).get("b") is None
    run(exchange_local(a))
    b = relay_factory(node_id="b", args=["--cluster-bind", endpoint(pb), "--peers", endpoint(pa)] + FAST)
    wait_mesh([a, b], timeout=20)
    run(exchange(a, b))


async def exchange_local(relay):
    from support.phoenix import assert_serves
    await assert_serves(relay)


def test_stopped_node_goes_down_and_comes_back(relay_factory):
    cluster = start_cluster(relay_factory, ["a", "b", "c"], args=FAST)
    cluster["c"].stop()  # SIGTERM: a graceful exit is silence too
    for n in ("a", "b"):
        wait_peer_state(cluster[n], "c", "down", timeout=10)
    assert cluster["a"].metrics()["realtime_peers_up"] == 1
    cluster["c"].start()
    cluster.wait_mesh()
    run(exchange(cluster["c"], cluster["a"]))
