"""Faults: a stopped (SIGSTOP) peer never blocks the others: broadcasts from A still
reach C promptly, A's WebSocket loop answers, the slot stream keeps delivering changes to
C; once resumed, the peer gets what was queued for it. A peer stopped for longer than the
down period is declared down (its presence leaves) and comes back when it resumes; its
change subscribers are told to rejoin (phx_error) when it resumes. A stopped slot holder loses
the slot within seconds, and another node streams."""
import asyncio
import os
import signal
import time
from contextlib import contextmanager

import pytest

from support.cluster import FAST, Collector, Inserter, start_cluster, subscribe_changes, wait_holder, \
    wait_peer_state, warm_up
from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run, unique_topic


@contextmanager
def stopped(relay):
    """SIGSTOP relay for the block; SIGCONT it afterwards whatever happens."""
    os.kill(relay.proc.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        if relay.alive():  # not if the test killed it meanwhile
            os.kill(relay.proc.pid, signal.SIGCONT)


def test_stopped_peer_blocks_nobody(relay_factory, items, slot):
    db = items
    # A long down period: B stays a member (and keeps its subscriptions) however long
    # this machine takes; the next test covers a peer declared down.
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot,
                            args=["--max-events-per-second", "5000", "--peer-down-ms", "15000"])
    a = cluster.holder()
    b, c = [r for r in cluster if r is not a]
    count = 1500

    async def body():
        topic = unique_topic("stall")
        sender = await PhoenixClient.open(a, "2.0.0")
        assert (await sender.join(topic, join_config()))["status"] == "ok"
        on_b = await PhoenixClient.open(b, "2.0.0")
        on_c = await PhoenixClient.open(c, "2.0.0")
        for x in (on_b, on_c):
            assert (await x.join(topic, join_config()))["status"] == "ok"
        await warm_up(sender, topic, [on_b, on_c])
        # Changes subscribed on B and C too.
        cb, tb, _ = await subscribe_changes(b)
        cc, tc, _ = await subscribe_changes(c)
        changes_c = Collector(cc, tc, "c")

        latencies = []
        heartbeat_rtts = []
        inserter = Inserter(db.dsn, period=0.02)
        with stopped(b):
            t_stop = time.monotonic()
            inserter.start()
            try:
                # 1500 messages at about 500/s; C reads them as they come.
                async def send():
                    for i in range(count):
                        await sender.broadcast(topic, "tick", {"i": i, "t": time.monotonic()})
                        if i % 50 == 49:
                            t = time.monotonic()
                            await sender.heartbeat()  # A's loop answers at once
                            heartbeat_rtts.append(time.monotonic() - t)
                            await asyncio.sleep(0.1)

                async def receive():
                    got = []
                    while len(got) < count:
                        msg = await on_c.expect_event(topic, "broadcast", timeout=10,
                                                      where=lambda p: p["event"] == "tick")
                        p = msg["payload"]["payload"]
                        latencies.append(time.monotonic() - p["t"])
                        got.append(p["i"])
                    return got

                _, got = await asyncio.gather(send(), receive())
                assert got == list(range(count))
                # Changes keep flowing to C while B is stopped.
                n = len(inserter.committed)
                await changes_c.wait_for(inserter.ids()[:n], timeout=15)
            finally:
                inserter.stop()
            held = time.monotonic() - t_stop
        committed = inserter.ids()
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)]
        print(f"\nB stopped {held:.1f}s: C got {count} broadcasts, p50 {latencies[len(latencies) // 2] * 1000:.1f} ms, "
              f"p99 {p99 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms; heartbeat max "
              f"{max(heartbeat_rtts) * 1000:.1f} ms; {len(committed)} rows")
        assert p99 < 1.0 and max(heartbeat_rtts) < 1.0
        # B resumed: what was queued for it arrives, in order; its changes too.
        got_b = []
        while len(got_b) < count:
            msg = await on_b.expect_event(topic, "broadcast", timeout=20, where=lambda p: p["event"] == "tick")
            got_b.append(msg["payload"]["payload"]["i"])
        assert got_b == list(range(count))
        changes_b = Collector(cb, tb, "b")
        await changes_b.wait_for(committed, timeout=30)
        await changes_c.wait_for(committed, timeout=30)
        assert a.metrics().get("realtime_mesh_dropped_total", 0) == 0
        for col in (changes_b, changes_c):
            await col.stop()
        for x in (sender, on_b, on_c, cb, cc):
            await x.close()
    run(body(), timeout=180)


def test_peer_stopped_past_down_period_comes_back(relay_factory, items, slot):
    """B is stopped long enough to be declared down: its presence leaves elsewhere. When
    it resumes it is up again, and its clients' presence returns."""
    db = items
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot, args=FAST)
    holder = cluster.holder()
    b, c = [r for r in cluster if r is not holder]

    async def body():
        topic = unique_topic("zombie")
        watcher = await PhoenixClient.open(c, "1.0.0")
        await watcher.join(topic, join_config(presence=True, key="watcher"))
        bob = await PhoenixClient.open(b, "1.0.0")
        await bob.join(topic, join_config(presence=True, key="bob"))
        await bob.track(topic, {"name": "Bob"})
        await watcher.expect_event(topic, "presence_diff", where=lambda p: "bob" in p["joins"])
        with stopped(b):
            await watcher.expect_event(topic, "presence_diff", timeout=10, where=lambda p: "bob" in p["leaves"])
            await asyncio.to_thread(wait_peer_state, c, b.node_id, "down", 10)
        await asyncio.to_thread(wait_peer_state, c, b.node_id, "up", 15)
        await asyncio.to_thread(wait_peer_state, b, c.node_id, "up", 15)
        await asyncio.to_thread(wait_peer_state, b, holder.node_id, "up", 15)
        d = (await watcher.expect_event(topic, "presence_diff", timeout=15,
                                        where=lambda p: "bob" in p["joins"]))["payload"]
        assert d["joins"]["bob"]["metas"][0]["name"] == "Bob"
        # And B's broadcasts flow again both ways.
        await warm_up(bob, topic, [watcher])
        await warm_up(watcher, topic, [bob])
        for x in (watcher, bob):
            await x.close()
    run(body(), timeout=120)


def test_resumed_node_keeps_serving_its_change_subscribers(relay_factory, items, slot):
    """B is stopped long enough for the slot holder's registry to call it dead and remove
    its subscriptions. When B resumes, its client that is still joined must get changes
    again, or have its channel closed with an error so that it rejoins; silence is wrong."""
    db = items
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot, args=FAST)
    holder = cluster.holder()
    b = [r for r in cluster if r is not holder][0]

    async def body():
        sub, stopic, sid = await subscribe_changes(b)
        with stopped(b):
            await asyncio.to_thread(
                wait_until, lambda: db.scalar("SELECT count(*) FROM realtime.subscription WHERE id = %s",
                                              (sid,)) == 0, 20, 0.2, "B's subscription to be removed")
        await asyncio.to_thread(wait_peer_state, holder, b.node_id, "up", 15)
        rid = db.scalar("INSERT INTO items (note) VALUES ('after resume') RETURNING id")
        msg = await sub.expect(lambda m: m["topic"] == stopic and (
            m["event"] in ("postgres_changes", "phx_close", "phx_error")
            or (m["event"] == "system" and m["payload"].get("status") == "error")), timeout=8)
        if msg["event"] == "postgres_changes":
            assert msg["payload"]["data"]["record"]["id"] == rid
        await sub.close()
    run(body(), timeout=120)


def test_hung_slot_holder_is_replaced(relay_factory, items, slot):
    """The holder is stopped (SIGSTOP): it still holds its connection, so the slot, but its
    walsender gives up after wal_sender_timeout, which the relay sets to a few seconds (the
    server's default, 60 s, would stop changes for a minute); another node then streams,
    and changes committed meanwhile arrive."""
    db = items
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot, args=FAST)
    old = cluster.holder()
    others = [r for r in cluster if r is not old]

    async def body():
        sub, topic, _ = await subscribe_changes(others[0])
        with stopped(old):
            t0 = time.monotonic()
            for r in others:
                await asyncio.to_thread(wait_peer_state, r, old.node_id, "down", 10)
            rid = db.scalar("INSERT INTO items (note) VALUES ('while hung') RETURNING id")
            try:
                msg = await sub.expect_event(topic, "postgres_changes", timeout=20)
                assert msg["payload"]["data"]["record"]["id"] == rid
                print(f"\nchanges flow again {time.monotonic() - t0:.2f}s after the holder hung")
                new = await asyncio.to_thread(wait_holder, others, 10)
                assert new is not old
            finally:
                old.kill()  # SIGKILL while stopped; SIGCONT follows
        await sub.close()
    run(body(), timeout=120)
