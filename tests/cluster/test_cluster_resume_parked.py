"""Parked subscriptions across nodes (issue 15): a client's socket closes on node B, which
parks its subscription (it keeps what arrives for it, having confirmed it to the slot
holder) and records the park in the database (realtime.subscription.parked_at). Then:

- B is killed (SIGKILL) and the client rejoins on C: C adopts the row and, since B had
  parked it, knows that what B kept since the park died with it. The client gets what
  the holder still had for B (unconfirmed), every row committed after the kill, and a
  `system` error saying changes were missed since the park. Counted by row id under
  ~500 rows/s."""
import asyncio
import datetime
import time

from support.cluster import FAST, Collector, Inserter, start_cluster, subscribe_changes
from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run

BINDING = {"event": "*", "schema": "public", "table": "items"}


def parked_at(db, sid):
    return db.scalar("SELECT extract(epoch FROM parked_at) FROM realtime.subscription WHERE id = %s", (sid,))


def missed_since(payload):
    """The time a "Changes were missed ... since <ISO time>" message names (epoch seconds)."""
    when = payload["message"].rsplit(" since ", 1)[1]
    return datetime.datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()


def test_a_client_parked_on_a_node_that_dies_is_told_what_died_with_it(relay_factory, items, slot):
    db = items
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot,
                            args=FAST + ["--resume-grace", "30"])
    holder = cluster.holder()
    victim, rescuer = [r for r in cluster if r is not holder]

    async def body():
        token = victim.token()
        c, topic, sid = await subscribe_changes(victim, vsn="2.0.0", token=token)
        before = Collector(c, topic, f"{victim.node_id} before the close")
        inserter = Inserter(db.dsn, period=0.005, rows=5)  # about 500 rows/s
        inserter.start()
        try:
            await before.wait_for(inserter.ids()[:1] or [], timeout=20)
            await asyncio.sleep(0.5)
            wall_park = time.time()
            await before.stop()
            await c.close()  # the victim parks the subscription and keeps its changes
            wait_until(lambda: parked_at(db, sid) is not None, timeout=10, what="the park recorded")
            recorded = float(parked_at(db, sid))
            assert wall_park - 2 <= recorded <= time.time() + 1, (wall_park, recorded)
            await asyncio.sleep(1.5)  # the victim keeps, and confirms, what arrives meanwhile
            victim.kill()
            t_kill = time.monotonic()
            await asyncio.sleep(0.5)
            c2 = await PhoenixClient.open(rescuer, "2.0.0", token=token)
            reply = await c2.join(topic, join_config(changes=[BINDING]), timeout=30)
            assert reply["status"] == "ok", reply
            assert reply["response"]["postgres_changes"][0]["id"] == sid, "the dead node's row adopted"
            after = Collector(c2, topic, f"{rescuer.node_id} after the rejoin")
            await asyncio.sleep(2.0)
        finally:
            inserter.stop()
        assert inserter.errors == 0
        after_kill = [i for i, t in inserter.committed if t > t_kill]
        await after.wait_for(after_kill, timeout=60)
        deadline = time.monotonic() + 20
        while not any(p["status"] == "error" for _, p in after.systems) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        errors = [(at, p) for at, p in after.systems if p["status"] == "error"]
        assert len(errors) == 1, after.systems
        at, error = errors[0]
        assert "Changes were missed" in error["message"], error
        assert recorded - 1 <= missed_since(error) <= recorded, (recorded, error)
        # After what the holder handed over (the recovered rows), before live ones.
        got = after.ids()
        assert all(i in set(got[:at]) for i in after.recovered), "recovered rows come before the error"
        unique = list(dict.fromkeys(got))
        assert unique == sorted(unique), "in commit order"
        assert len(unique) == len(got), "nothing twice"
        lost = [i for i in inserter.ids() if i not in set(before.ids()) and i not in set(got)]
        print(f"\n{victim.node_id} killed {1.5}s after the park; {len(inserter.ids())} rows, {len(before.ids())} "
              f"before the close, {len(got)} after the rejoin ({len(after.recovered)} recovered), "
              f"{len(lost)} died with the victim, reported since {error['message'].rsplit(' since ', 1)[1]}")
        assert lost, "the victim kept some (the test would not test the report)"
        assert max(lost) < min(after_kill), "only what the victim kept is missing"
        assert db.scalar("SELECT node_id FROM realtime.subscription WHERE id = %s", (sid,)) == rescuer.node_id
        assert parked_at(db, sid) is None, "adopted: no longer parked"
        await after.stop()
        await c2.close()
    run(body(), timeout=240)
