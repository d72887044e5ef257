"""A node that just started (issue 14, fault 2): its join reply means its broadcasts reach
every node that has members of the channel. Nodes b and c have members of a channel; node
a starts (found through the node registry, or through --peers), a client joins the channel
on it as soon as it accepts connections and sends a burst of broadcasts the moment the
reply arrives. Every member on b and c must receive every one of them, counted by id.
Several starts each, since how early the first join comes is a race."""
import asyncio
import time

import pytest

from support.cluster import FAST, mesh_layout, wait_mesh
from support.ports import endpoint
from support.phoenix import PhoenixClient, run, unique_topic

BURST = 40
STARTS = 3
ARGS = FAST + ["--max-events-per-second", "100000", "--max-joins-per-second", "100000"]


async def open_when_accepting(relay, timeout=30):
    """A client of relay as soon as it accepts WebSocket connections."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await PhoenixClient.open(relay, "2.0.0")
        except (OSError, asyncio.TimeoutError):
            if time.monotonic() > deadline or not relay.alive():
                raise
            await asyncio.sleep(0.01)


async def received_ids(client, topic, want, timeout):
    """The ids of the burst's broadcasts client received on topic, once it has `want`
    distinct ones or at the deadline."""
    ids = set()
    deadline = time.monotonic() + timeout
    while len(ids) < want and time.monotonic() < deadline:
        try:
            m = await client.recv(timeout=max(0.05, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            break
        if m["topic"] == topic and m["event"] == "broadcast" and m["payload"]["event"] == "burst":
            ids.add(m["payload"]["payload"]["i"])
    return ids


def start_fresh(relay, cluster_nodes, timeout=30):
    """Starts relay and, once a client joined on it and sent the burst, checks every member."""
    async def body(members, topic):
        relay.start(wait=False)
        sender = await open_when_accepting(relay, timeout)
        reply = await sender.join(topic)
        assert reply["status"] == "ok", reply
        for i in range(BURST):
            await sender.broadcast(topic, "burst", {"i": i})
        lost = {}
        for name, c in members:
            got = await received_ids(c, topic, BURST, timeout=10)
            if len(got) != BURST:
                lost[name] = sorted(set(range(BURST)) - got)
        await sender.close()
        return lost
    return body


@pytest.mark.parametrize("found_by", ["registry", "peers"])
def test_fresh_nodes_first_broadcasts_reach_every_node_with_members(relay_factory, db, slot, found_by):
    ports, peers = mesh_layout(["a", "b", "c"])
    dsn = db.dsn if found_by == "registry" else None
    relays = {}
    for n in ("a", "b", "c"):
        # Through the registry a knows nobody and nobody knows a: they find each other there.
        listed = peers[n] if found_by == "peers" else [e for e in peers[n] if e != endpoint(ports["a"])]
        relays[n] = relay_factory(start=False, db_dsn=dsn, node_id=n, cluster_port=ports[n], peers=listed,
                                  slot=slot if dsn else None, args=ARGS + (["--no-replication"] if dsn else []))
    a, b, c = relays["a"], relays["b"], relays["c"]
    for r in (b, c):
        r.start(wait=False)
    for r in (b, c):
        r.wait_healthy()
    wait_mesh([b, c])

    async def trials():
        failures = []
        for start in range(STARTS):
            topic = unique_topic("fresh")
            members = []
            for r in (b, c):
                for vsn in ("1.0.0", "2.0.0"):
                    m = await PhoenixClient.open(r, vsn)
                    assert (await m.join(topic))["status"] == "ok"
                    members.append((f"{r.node_id}/{vsn}", m))
            lost = await start_fresh(a, [b, c])(members, topic)
            if lost:
                failures.append((start, lost))
            a.stop()
            for _, m in members:
                await m.close()
        assert not failures, f"broadcasts sent right after a fresh node's join reply were lost: {failures}"
    run(trials(), timeout=300)
