"""Partitions, with each relay in its own network namespace on a local bridge (skipped
where namespaces are not permitted). A node cut off from the others is declared down on
both sides of the cut and its presence entries leave; the rest of the cluster keeps
working; when the cut heals, the node is up again everywhere, presence converges to the
same state on every node, and broadcasts flow across the former cut."""
import asyncio

import pytest

from support.cluster import FAST, wait_mesh, wait_peer_state, warm_up
from support.netns import NamespacesUnavailable, NsRelay, Topology
from support.pg import wait_until
from support.ports import free_port
from support.phoenix import PhoenixClient, join_config, run, unique_topic

NAMES = ["a", "b", "c"]


@pytest.fixture
def ns_cluster(request, relay_factory):
    topo = Topology(len(NAMES))
    try:
        topo.create()
    except NamespacesUnavailable as e:
        pytest.skip(f"network namespaces are not available here: {e}")
    relays = {}
    try:
        ports = {n: free_port() for n in NAMES}
        hosts = {n: topo.nodes[i]["addr"] for i, n in enumerate(NAMES)}
        for i, n in enumerate(NAMES):
            peers = ",".join(f"tcp://{hosts[m]}:{ports[m]}" for m in NAMES if m != n)
            r = NsRelay(topo.nodes[i]["ns"], hosts[n], node_id=n,
                        args=["--cluster-bind", f"tcp://{hosts[n]}:{ports[n]}", "--peers", peers] + FAST)
            request.node._relays.append(r)  # relay_factory's log report and final stop
            relays[n] = r
        for r in relays.values():
            r.start(wait=False)
        for r in relays.values():
            wait_until(r._healthy, timeout=30, what=f"relay {r.node_id} in its namespace")
        wait_mesh(list(relays.values()), timeout=30)
        yield topo, relays
    finally:
        for i in range(len(NAMES)):
            topo.heal(i)
        for r in relays.values():
            r.stop()
        topo.destroy()


def test_partitioned_node_leaves_and_returns(ns_cluster):
    topo, relays = ns_cluster
    a, b, c = relays["a"], relays["b"], relays["c"]

    async def body():
        topic = unique_topic("part")
        clients = {}
        for n, r in relays.items():
            cl = await PhoenixClient.open(r, "2.0.0")
            assert (await cl.join(topic, join_config(presence=True, key=f"user-{n}")))["status"] == "ok"
            await cl.expect_event(topic, "presence_state")
            clients[n] = cl
        for n, cl in clients.items():
            assert (await cl.track(topic, {"node": n}))["status"] == "ok"
        for n, cl in clients.items():
            for m in NAMES:
                if m != n:
                    await cl.expect_event(topic, "presence_diff", where=lambda p, m=m: f"user-{m}" in p["joins"])
        for n, cl in clients.items():
            await warm_up(cl, topic, [x for m, x in clients.items() if m != n])

        # Cut A off.
        topo.cut(0)
        for n in ("b", "c"):
            await clients[n].expect_event(topic, "presence_diff", timeout=10,
                                          where=lambda p: "user-a" in p["leaves"])
            await asyncio.to_thread(wait_peer_state, relays[n], "a", "down", 10)
        # B and C still talk.
        await clients["b"].broadcast(topic, "during", {"from": "b"})
        got = await clients["c"].expect_event(topic, "broadcast", where=lambda p: p["event"] == "during")
        assert got["payload"]["payload"] == {"from": "b"}

        # A is cut off from the test too, but its log is here: it declares B and C down.
        await asyncio.to_thread(wait_until, lambda: "node b is down" in a.log_text()
                                and "node c is down" in a.log_text(), 10, 0.1, "A to declare B and C down")

        # Heal: A is up again on both sides, presence converges everywhere.
        topo.heal(0)
        await asyncio.to_thread(wait_mesh, [a, b, c], 30)
        for n in ("b", "c"):
            await clients[n].expect_event(topic, "presence_diff", timeout=15,
                                          where=lambda p: "user-a" in p["joins"])
        # A's client gets the leaves of B's and C's entries (held up by the cut) and
        # their joins once A is back in the mesh.
        for m in ("b", "c"):
            await clients["a"].expect_event(topic, "presence_diff", timeout=15,
                                            where=lambda p, m=m: f"user-{m}" in p["leaves"])
            await clients["a"].expect_event(topic, "presence_diff", timeout=15,
                                            where=lambda p, m=m: f"user-{m}" in p["joins"])
        want = {f"user-{n}" for n in NAMES}
        for n, r in relays.items():
            deadline = asyncio.get_running_loop().time() + 15
            while True:
                probe = await PhoenixClient.open(r, "1.0.0")
                await probe.join(topic, join_config(presence=True, key="probe"))
                state = (await probe.expect_event(topic, "presence_state"))["payload"]
                await probe.close()
                if set(state) == want and all(len(v["metas"]) == 1 for v in state.values()):
                    break
                assert asyncio.get_running_loop().time() < deadline, (n, state)
                await asyncio.sleep(0.2)
        # Broadcasts cross the healed cut both ways (A's client kept its connection).
        await warm_up(clients["a"], topic, [clients["b"], clients["c"]])
        await warm_up(clients["c"], topic, [clients["a"]])
        for cl in clients.values():
            await cl.close()
    run(body(), timeout=120)
