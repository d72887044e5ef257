"""Postgres changes across the mesh and slot failover: changes subscribed on nodes that
do not hold the slot are delivered through the holder; a SIGKILL of the holder during a
steady stream of inserts lets another node take the slot within seconds, every row
reaches subscribers on the surviving nodes exactly once after deduplication by id, and
the dead node's subscription rows are removed; a Postgres restart during a stream loses
nothing."""
import asyncio
import time
from contextlib import closing

from support.cluster import FAST, Collector, Inserter, start_cluster, subscribe_changes, wait_holder
from support.pg import wait_until
from support.phoenix import run


def node_rows(db, node):
    with closing(db.connect()) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM realtime.subscription WHERE node_id = %s", (node,))
        return cur.fetchone()[0]


def test_changes_subscribed_on_other_nodes_delivered_through_holder(relay_factory, items, slot):
    db = items
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot)
    holder = cluster.holder()
    others = [r for r in cluster if r is not holder]
    assert all(not r.health()["slot_holder"] for r in others)
    # Every node knows who holds the slot.
    for r in others:
        wait_until(lambda: {p["node_id"]: p["slot_holder"] for p in r.health()["peers"]}.get(holder.node_id),
                   timeout=10, what=f"{r.node_id} to list {holder.node_id} as slot holder")

    async def body():
        subs = []
        for r in others + [holder]:
            c, topic, sid = await subscribe_changes(r)
            assert db.scalar("SELECT node_id FROM realtime.subscription WHERE id = %s", (sid,)) == r.node_id
            subs.append((c, topic, sid, r))
        ids = [db.scalar("INSERT INTO items (note) VALUES (%s) RETURNING id", (f"n{i}",)) for i in range(20)]
        db.execute("UPDATE items SET note = 'changed' WHERE id = %s", (ids[0],))
        db.execute("DELETE FROM items WHERE id = %s", (ids[1],))
        for c, topic, sid, r in subs:
            got = []
            while len(got) < len(ids) + 2:
                msg = await c.expect_event(topic, "postgres_changes", timeout=15)
                p = msg["payload"]
                assert p["ids"] == [sid], (r.node_id, p)
                d = p["data"]
                got.append((d["type"], (d.get("record") or d["old_record"])["id"]))
            assert got == [("INSERT", i) for i in ids] + [("UPDATE", ids[0]), ("DELETE", ids[1])], r.node_id
            await c.assert_silent(0.3, lambda m: m["event"] == "postgres_changes")
        # The holder published each change once to each other node.
        for r in others:
            m = r.metrics()
            assert m.get("realtime_change_gaps_total", 0) == 0
        for c, *_ in subs:
            await c.close()
    run(body())


def test_slot_failover_on_sigkill_loses_nothing(relay_factory, items, slot):
    db = items
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot, args=FAST)
    old = cluster.holder()
    survivors = [r for r in cluster if r is not old]

    async def body():
        collectors = []
        for r in survivors:
            for vsn in ("1.0.0", "2.0.0"):
                c, topic, _ = await subscribe_changes(r, vsn=vsn)
                collectors.append(Collector(c, topic, f"{r.node_id}/{vsn}"))
        # The holder has subscribers too, so it has rows to clean up when it dies.
        doomed, _, _ = await subscribe_changes(old)
        assert node_rows(db, old.node_id) == 1

        inserter = Inserter(db.dsn, period=0.015)
        inserter.start()
        try:
            await asyncio.sleep(1.5)
            assert len(inserter.committed) > 10
            # Rows flow before the kill.
            await collectors[0].wait_for(inserter.ids()[:5], timeout=15)
            t_kill = time.monotonic()
            old.kill()
            new = await asyncio.to_thread(wait_holder, survivors, 20)
            t_holder = time.monotonic()
            # Keep inserting for a while under the new holder.
            n_at_takeover = len(inserter.committed)
            await asyncio.to_thread(wait_until, lambda: len(inserter.committed) > n_at_takeover + 60, 30)
        finally:
            inserter.stop()
        committed = inserter.ids()
        assert inserter.errors == 0
        for col in collectors:
            await col.wait_for(committed, timeout=30)
        # Let stragglers land before the exactly-once check.
        await asyncio.sleep(0.5)
        report = []
        for col in collectors:
            ids = col.ids()
            assert set(ids) == set(committed), col.name
            dups = len(ids) - len(set(ids))
            # The relay deduplicates by (commit LSN, change index): what reaches a client
            # is each row once, in commit order.
            assert dups == 0, f"{col.name}: {dups} duplicates"
            assert ids == sorted(ids), f"{col.name}: out of order"
            report.append((col.name, len(ids), dups))
        # Failover: from the SIGKILL to the first row committed after it reaching a client.
        after = {i for i, t in inserter.committed if t > t_kill}
        firsts = [min(t for i, t in col.received if i in after) for col in collectors]
        failover = min(firsts) - t_kill
        print(f"\nfailover: new holder {new.node_id} in health after {t_holder - t_kill:.2f}s; first change "
              f"committed after the kill delivered after {failover:.2f}s; {len(committed)} rows; {report}")
        assert failover < 10 and t_holder - t_kill < 10, (failover, t_holder - t_kill)

        # The dead node's subscription rows are removed by the new holder; the others stay.
        await asyncio.to_thread(wait_until, lambda: node_rows(db, old.node_id) == 0, 20, 0.2,
                                f"the rows of {old.node_id} to be removed")
        for r in survivors:
            assert node_rows(db, r.node_id) == 2
        for col in collectors:
            await col.stop()
            await col.client.close()
    run(body(), timeout=180)


def test_postgres_restart_during_stream_loses_nothing(relay_factory, items, slot, pg_server):
    db = items
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot, args=FAST)
    cluster.holder()

    async def body():
        collectors = []
        for r in cluster:
            c, topic, _ = await subscribe_changes(r)
            collectors.append(Collector(c, topic, r.node_id))
        inserter = Inserter(db.dsn, period=0.015)
        inserter.start()
        try:
            await asyncio.sleep(1.0)
            await collectors[0].wait_for(inserter.ids()[:5], timeout=15)
            await asyncio.to_thread(pg_server.restart)
            n_after = len(inserter.committed)
            await asyncio.to_thread(wait_until, lambda: len(inserter.committed) > n_after + 60, 60)
        finally:
            inserter.stop()
        assert inserter.errors > 0  # the restart was seen
        db.conn = db.connect()
        truth = [r[0] for r in db.execute("SELECT id FROM items ORDER BY id")]
        assert set(inserter.ids()) <= set(truth)
        for col in collectors:
            await col.wait_for(truth, timeout=60)
        await asyncio.sleep(0.5)
        for col in collectors:
            ids = col.ids()
            assert set(ids) == set(truth), col.name
            assert len(ids) == len(set(ids)), f"{col.name}: duplicates"
        # The relays are whole again: one holds the slot, and a new subscription works on
        # every node (the database connections came back).
        await asyncio.to_thread(wait_holder, list(cluster), 30)
        for r in cluster:
            c, topic, _ = await subscribe_changes(r)
            rid = db.scalar("INSERT INTO items (note) VALUES ('after') RETURNING id")
            msg = await c.expect_event(topic, "postgres_changes", timeout=15,
                                       where=lambda p: p["data"]["record"]["id"] == rid)
            assert msg["payload"]["data"]["record"]["note"] == "after"
            await c.close()
        for col in collectors:
            await col.stop()
            await col.client.close()
    run(body(), timeout=240)
