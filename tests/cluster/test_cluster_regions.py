"""Regions, simulated on loopback: relays whose --region is the database's (--db-region)
take the slot first; a relay of another region takes it only when no relay of the
database's region has held it for --region-takeover seconds, and gives it back as soon as
one of them is up and competing. Changes keep flowing across the hand-overs."""
import asyncio
import time

from support.cluster import FAST, endpoint, holders, start_cluster, subscribe_changes, wait_holder, wait_mesh
from support.pg import wait_until
from support.ports import free_port
from support.phoenix import run

TAKEOVER = 3


def region_args(region):
    return ["--region", region, "--db-region", "eu", "--region-takeover", str(TAKEOVER)] + FAST


def held_ever(relay):
    return "streaming replication slot" in relay.log_text()


def test_db_region_relay_takes_the_slot_from_an_earlier_other_region_relay(relay_factory, items, slot):
    db = items
    pu, pe = free_port(), free_port()
    us = relay_factory(db_dsn=db.dsn, node_id="us1",
                       args=["--cluster-bind", endpoint(pu), "--peers", endpoint(pe), "--slot", slot]
                       + region_args("us"))
    t0 = time.monotonic()
    # Alone, the us relay waits for the takeover delay, then streams.
    us.wait_slot(timeout=TAKEOVER + 20)
    waited = time.monotonic() - t0
    assert waited >= TAKEOVER - 0.5, f"the us relay took the slot after {waited:.2f}s"

    eu = relay_factory(db_dsn=db.dsn, node_id="eu1",
                       args=["--cluster-bind", endpoint(pe), "--peers", endpoint(pu), "--slot", slot]
                       + region_args("eu"))
    t1 = time.monotonic()
    eu.wait_slot(timeout=20)
    assert not us.health()["slot_holder"]
    print(f"\nhand-back to the database's region after {time.monotonic() - t1:.2f}s")

    # The eu holder streams to the us relay's subscribers.
    async def body():
        c, topic, _ = await subscribe_changes(us)
        rid = db.scalar("INSERT INTO items (note) VALUES ('via eu') RETURNING id")
        msg = await c.expect_event(topic, "postgres_changes", timeout=15)
        assert msg["payload"]["data"]["record"]["id"] == rid
        await c.close()
    run(body())


def test_other_region_takes_over_only_after_the_delay_and_gives_back(relay_factory, items, slot):
    db = items
    names = ["us1", "eu1", "eu2"]
    cluster = start_cluster(relay_factory, names, db_dsn=db.dsn, slot=slot,
                            node_args={n: region_args(n[:2]) for n in names})
    us, eu1, eu2 = cluster["us1"], cluster["eu1"], cluster["eu2"]
    first = cluster.holder()
    assert first is not us
    # Well past the takeover delay, the us relay has not taken the slot.
    deadline = time.monotonic() + TAKEOVER + 1.5
    while time.monotonic() < deadline:
        assert [r.node_id for r in holders(cluster)] == [first.node_id]
        time.sleep(0.2)

    async def body():
        c, topic, _ = await subscribe_changes(us)
        seen = []

        async def expect_row(note):
            rid = db.scalar("INSERT INTO items (note) VALUES (%s) RETURNING id", (note,))
            msg = await c.expect_event(topic, "postgres_changes", timeout=30,
                                       where=lambda p: p["data"]["record"]["id"] == rid)
            seen.append(msg["payload"]["data"]["record"]["note"])

        await expect_row("first")
        # The eu holder dies: the other eu relay takes over, not the us one.
        other = eu2 if first is eu1 else eu1
        first.kill()
        t_kill = time.monotonic()
        new = await asyncio.to_thread(wait_holder, [us, other], 20)
        assert new is other, f"{new.node_id} took the slot while {other.node_id} was up"
        assert not held_ever(us)
        await expect_row("second")

        # The last eu relay dies: the us relay takes the slot, but only after the delay.
        other.kill()
        t_kill = time.monotonic()
        await asyncio.to_thread(us.wait_slot, TAKEOVER + 20)
        waited = time.monotonic() - t_kill
        assert waited >= TAKEOVER - 0.5, f"took the slot {waited:.2f}s after the last eu holder died"
        print(f"\nus took the slot {waited:.2f}s after the last eu relay was killed")
        await expect_row("third")

        # An eu relay comes back: the us relay gives the slot back.
        first.start()
        await asyncio.to_thread(wait_mesh, [us, first], 20)
        await asyncio.to_thread(first.wait_slot, 20)
        await asyncio.to_thread(wait_until, lambda: not us.health()["slot_holder"], 10)
        await expect_row("fourth")
        assert seen == ["first", "second", "third", "fourth"]
        await c.close()
    run(body(), timeout=180)
