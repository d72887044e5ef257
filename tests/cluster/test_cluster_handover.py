"""The acknowledged hand-over of changes between nodes (issue 14, fault 1). Under a steady
stream of inserts, a relay is killed (SIGKILL) and restarted with the same --node-id
within --resume-grace; its clients reconnect, rejoin with the same bindings, adopt their
old subscription ids, and must have every row committed meanwhile: the slot holder kept
what the node had not confirmed and resends it when the node is back. Counted by unique
row id per client, for a node that does not hold the slot and for the slot holder itself.
A node that stays away past the grace is declared gone: its subscriptions are removed,
and the slot's confirmed position moves on without it."""
import asyncio
import time

import pytest

from support.cluster import FAST, Collector, Inserter, start_cluster, subscribe_changes, wait_holder, \
    wait_peer_state
from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run

BINDING = {"event": "*", "schema": "public", "table": "items"}
CLIENTS = 3


async def rejoin(relay, vsn, topic, sids, token, timeout=30):
    """A new client of relay joining topic with the binding again and the same token (a
    rejoin adopts only with the same claims); it must adopt one of sids (the clients'
    bindings and claims are the same, so any of their rows will do)."""
    c = await PhoenixClient.open(relay, vsn, token=token)
    reply = await c.join(topic, join_config(changes=[BINDING]), timeout=timeout)
    assert reply["status"] == "ok", reply
    assert reply["response"]["postgres_changes"][0]["id"] in sids, "not adopted: a new subscription row"
    return c


def slot_confirmed(db, slot):
    return db.scalar("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s", (slot,))


@pytest.mark.parametrize("victim", ["peer", "holder"])
def test_node_restarted_within_grace_loses_nothing(items, slot, relay_factory, victim):
    # relay_factory last: its relays stop before the database (and its slot) is dropped.
    db = items
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot,
                            args=FAST + ["--resume-grace", "30"])
    holder = cluster.holder()
    node = holder if victim == "holder" else [r for r in cluster if r is not holder][0]
    control = [r for r in cluster if r is not node][0]

    async def body():
        returning = []  # (vsn, topic, sid, collector before the kill)
        token = node.token()
        for i in range(CLIENTS):
            vsn = ("1.0.0", "2.0.0")[i % 2]
            c, topic, sid = await subscribe_changes(node, vsn=vsn, token=token)
            returning.append((vsn, topic, sid, Collector(c, topic, f"{node.node_id}/{i}")))
        cc, ct, _ = await subscribe_changes(control)
        steady = Collector(cc, ct, f"{control.node_id} (control)")

        inserter = Inserter(db.dsn, period=0.005, rows=5)  # about 500 rows/s on this machine
        inserter.start()
        try:
            await asyncio.sleep(1.0)
            await returning[0][3].wait_for(inserter.ids()[:20], timeout=20)
            t_kill = time.monotonic()
            n_kill = len(inserter.committed)
            node.kill()
            for _, _, _, col in returning:
                await col.stop()
            await asyncio.sleep(2.0)
            await asyncio.to_thread(node.start)
            after = []
            sids = {sid for _, _, sid, _ in returning}
            for vsn, topic, sid, col in returning:
                c = await rejoin(node, vsn, topic, sids, token)
                after.append(Collector(c, topic, col.name + " after restart"))
            n_back = len(inserter.committed)
            await asyncio.to_thread(wait_until, lambda: len(inserter.committed) > n_back + 500, 60)
        finally:
            inserter.stop()
        committed = inserter.ids()
        assert inserter.errors == 0
        rate = (n_back - n_kill) / (time.monotonic() - t_kill)
        await steady.wait_for(committed, timeout=60)
        report = []
        for (vsn, topic, sid, before), later in zip(returning, after):
            try:
                await later.wait_for(set(committed) - set(before.ids()), timeout=60)
            finally:
                got = set(before.ids()) | set(later.ids())
                report.append(f"{later.name}: {len(set(committed) - got)} lost")
            # Connected when its node died: nothing kept was lost, so nothing is reported.
            assert not [p for _, p in later.systems if p["status"] == "error"], later.systems
        print(f"\n{victim} {node.node_id} killed with {n_kill} rows committed, back after {n_back}; "
              f"~{rate:.0f} rows/s; {report}")
        for col in after + [steady]:
            await col.stop()
            await col.client.close()
    run(body(), timeout=300)


def test_node_away_past_grace_is_gone_and_releases_the_slot(items, slot, relay_factory):
    """B is killed and stays away: once past the grace its subscriptions are removed and
    the slot's confirmed position passes the changes that were waiting for it."""
    db = items
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot,
                            args=FAST + ["--resume-grace", "3"])
    holder = cluster.holder()
    b = [r for r in cluster if r is not holder][0]

    async def body():
        c, topic, sid = await subscribe_changes(b)
        b.kill()
        await asyncio.to_thread(wait_peer_state, holder, b.node_id, "down", 15)
        # Changes for B while it is away: the holder keeps them, and the slot waits.
        rid = db.scalar("INSERT INTO items (note) VALUES ('while away') RETURNING id")
        commit_lsn = db.scalar("SELECT pg_current_wal_lsn()::text")
        passed = ("SELECT %s::pg_lsn <= confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = %s",
                  (commit_lsn, slot))
        # Within the grace (3 s, removal after 5 s) the slot does not pass B's change.
        t_end = time.monotonic() + 1.5
        while time.monotonic() < t_end:
            assert not db.scalar(*passed), "the slot was confirmed past a change B never confirmed"
            await asyncio.sleep(0.1)
        await asyncio.to_thread(
            wait_until, lambda: db.scalar("SELECT count(*) FROM realtime.subscription WHERE id = %s", (sid,)) == 0,
            30, 0.2, "B's subscription to be removed after the grace")
        # With B gone, the slot moves past its change.
        await asyncio.to_thread(
            wait_until, lambda: db.scalar(*passed), 30, 0.2,
            f"the slot to confirm past row {rid}")
        m = holder.metrics()
        assert m.get("realtime_handover_gone_total", 0) >= 1
        assert m.get("realtime_handover_backlog_bytes", 0) == 0
        await c.close()
    run(body(), timeout=120)
