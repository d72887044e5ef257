"""Parked subscriptions across nodes (issue 15): a client's socket closes on node B, which
parks its subscription (it keeps what arrives for it, having confirmed it to the slot
holder) and records the park in the database (realtime.subscription.parked_at). Then:

- B is killed (SIGKILL) and the client rejoins on C: C adopts the row and, since B had
  parked it, knows that what B kept since the park died with it. The client gets what
  the holder still had for B (unconfirmed), every row committed after the kill, and a
  `system` error saying changes were missed since the park.
- B lives and the client rejoins on C: C moves the row at once (B's row is parked: no
  client of B is connected to it) and, once the row is live on C, asks B for what it
  kept (hub/kept_transfer): every row exactly once, in order, the recovered ones marked,
  no system error. Neither B nor C holds the slot: what B had not confirmed comes from
  the holder's backlog, what it had is in B's keeping, and nothing falls between.
- B stops (SIGSTOP) before it could answer: C tells the client it missed changes since
  the park, after what the holder handed over.
- B is killed and restarted with the same --node-id, and the client rejoins B: B's new
  run adopts its crash orphan, reads its parked_at, and tells the client what its dead
  run kept is gone since the park.
Counted by row id under ~500 rows/s."""
import asyncio
import datetime
import os
import signal
import time

from support.cluster import FAST, Collector, Inserter, start_cluster, subscribe_changes
from support.cut_proxy import CutProxy
from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run

BINDING = {"event": "*", "schema": "public", "table": "items"}


def parked_at(db, sid):
    return db.scalar("SELECT extract(epoch FROM parked_at) FROM realtime.subscription WHERE id = %s", (sid,))


def missed_since(payload):
    """The time a "Changes were missed ... since <ISO time>" message names (epoch seconds)."""
    when = payload["message"].rsplit(" since ", 1)[1]
    return datetime.datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()


def three_nodes(relay_factory, db, slot):
    """A cluster of three relays: (the slot holder, the node a client parks on, the node it
    comes back to), the last two not holding the slot."""
    cluster = start_cluster(relay_factory, ["a", "b", "c"], db_dsn=db.dsn, slot=slot,
                            args=FAST + ["--resume-grace", "30"])
    holder = cluster.holder()
    victim, rescuer = [r for r in cluster if r is not holder]
    return holder, victim, rescuer


async def the_error_after_the_recovered(after, inserter, before):
    """Waits for the one system error of after; checks that the recovered rows came before
    it and that every row came once, in commit order. Returns (the error's payload, the
    rows after's client got, the rows neither client got)."""
    deadline = time.monotonic() + 20
    while not any(p["status"] == "error" for _, p in after.systems) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    errors = [(at, p) for at, p in after.systems if p["status"] == "error"]
    assert len(errors) == 1, after.systems
    at, error = errors[0]
    assert "Changes were missed" in error["message"], error
    got = after.ids()
    assert all(i in set(got[:at]) for i in after.recovered), "recovered rows come before the error"
    unique = list(dict.fromkeys(got))
    assert unique == sorted(unique), "in commit order"
    assert len(unique) == len(got), "nothing twice"
    first = min(before.ids())  # the first row the subscription had
    lost = [i for i in inserter.ids() if i > first and i not in set(before.ids()) and i not in set(got)]
    return error, got, lost


async def close_and_park(victim, db, token, inserter):
    """A client of victim, joined and getting inserter's (running) rows, closes its socket: victim
    parks the subscription and records the park. Returns (topic, id, collector of what it
    got, the park's recorded time)."""
    c, topic, sid = await subscribe_changes(victim, vsn="2.0.0", token=token)
    before = Collector(c, topic, f"{victim.node_id} before the close")
    subscribed = len(inserter.committed)  # rows committed before the subscription do not come
    deadline = time.monotonic() + 20
    while len(inserter.committed) <= subscribed:
        assert time.monotonic() < deadline, "no row committed"
        await asyncio.sleep(0.05)
    await before.wait_for(inserter.ids()[subscribed:subscribed + 1], timeout=20)
    await asyncio.sleep(0.5)
    wall_park = time.time()
    await before.stop()
    await c.close()  # the victim parks the subscription and keeps its changes
    wait_until(lambda: parked_at(db, sid) is not None, timeout=10, what="the park recorded")
    recorded = float(parked_at(db, sid))
    assert wall_park - 2 <= recorded <= time.time() + 1, (wall_park, recorded)
    return topic, sid, before, recorded


async def rejoin_adopting(node, token, topic, sid, name):
    """A new client of node joining topic again with token: it must adopt sid. Returns the
    collector of what it gets."""
    c = await PhoenixClient.open(node, "2.0.0", token=token)
    reply = await c.join(topic, join_config(changes=[BINDING]), timeout=30)
    assert reply["status"] == "ok", reply
    assert reply["response"]["postgres_changes"][0]["id"] == sid, "the parked row adopted"
    return Collector(c, topic, name)


def test_a_client_parked_on_a_node_that_dies_is_told_what_died_with_it(relay_factory, items, slot):
    db = items
    holder, victim, rescuer = three_nodes(relay_factory, db, slot)

    async def body():
        token = victim.token()
        inserter = Inserter(db.dsn, period=0.005, rows=5)  # about 500 rows/s
        inserter.start()
        try:
            topic, sid, before, recorded = await close_and_park(victim, db, token, inserter)
            await asyncio.sleep(1.5)  # the victim keeps, and confirms, what arrives meanwhile
            victim.kill()
            t_kill = time.monotonic()
            await asyncio.sleep(0.5)
            after = await rejoin_adopting(rescuer, token, topic, sid, f"{rescuer.node_id} after the rejoin")
            await asyncio.sleep(2.0)
        finally:
            inserter.stop()
        assert inserter.errors == 0
        after_kill = [i for i, t in inserter.committed if t > t_kill]
        await after.wait_for(after_kill, timeout=60)
        # After what the holder handed over (the recovered rows), before live ones.
        error, got, lost = await the_error_after_the_recovered(after, inserter, before)
        assert recorded - 1 <= missed_since(error) <= recorded, (recorded, error)
        print(f"\n{victim.node_id} killed {1.5}s after the park; {len(inserter.ids())} rows, {len(before.ids())} "
              f"before the close, {len(got)} after the rejoin ({len(after.recovered)} recovered), "
              f"{len(lost)} died with the victim, reported since {error['message'].rsplit(' since ', 1)[1]}")
        assert lost, "the victim kept some (the test would not test the report)"
        assert max(lost) < min(after_kill), "only what the victim kept is missing"
        assert db.scalar("SELECT node_id FROM realtime.subscription WHERE id = %s", (sid,)) == rescuer.node_id
        assert parked_at(db, sid) is None, "adopted: no longer parked"
        await after.stop()
        await after.client.close()
    run(body(), timeout=240)


async def parked_client(victim, db, topic_token):
    """A client of victim, through a proxy that cuts its connection as a dropped network
    does (everything the relay wrote reaches the client), joined and live. Returns
    (proxy, client, topic, id, collector)."""
    from support.phoenix import unique_topic
    proxy = CutProxy(victim.port)
    c = await PhoenixClient.connect(proxy.url(victim, token=topic_token, vsn="2.0.0"), "2.0.0")
    topic = unique_topic("db")
    reply = await c.join(topic, join_config(changes=[BINDING]))
    assert reply["status"] == "ok", reply
    sid = reply["response"]["postgres_changes"][0]["id"]
    await c.expect_event(topic, "system", where=lambda p: p["status"] == "ok")
    return proxy, c, topic, sid, Collector(c, topic, f"{victim.node_id} before the cut")


async def cut_and_park(proxy, before, db, sid):
    proxy.cut()
    deadline = time.monotonic() + 15
    while not before.closed:
        assert time.monotonic() < deadline, "the cut connection did not close"
        await asyncio.sleep(0.05)
    wait_until(lambda: parked_at(db, sid) is not None, timeout=10, what="the park recorded")
    return float(parked_at(db, sid))


def test_a_client_returning_to_another_node_while_its_node_lives_gets_what_it_kept(relay_factory, items, slot):
    db = items
    holder, victim, rescuer = three_nodes(relay_factory, db, slot)

    async def body():
        token = victim.token()
        proxy, c, topic, sid, before = await parked_client(victim, db, token)
        inserter = Inserter(db.dsn, period=0.005, rows=5)  # about 500 rows/s
        inserter.start()
        try:
            await before.wait_for(inserter.ids()[:1] or [], timeout=20)
            await asyncio.sleep(0.5)
            await cut_and_park(proxy, before, db, sid)
            await asyncio.sleep(1.5)  # the victim keeps, and confirms, what arrives meanwhile
            t0 = time.monotonic()
            c2 = await PhoenixClient.open(rescuer, "2.0.0", token=token)
            reply = await c2.join(topic, join_config(changes=[BINDING]), timeout=30)
            t_reply = time.monotonic() - t0
            assert reply["status"] == "ok", reply
            assert reply["response"]["postgres_changes"][0]["id"] == sid, "the parked row adopted"
            after = Collector(c2, topic, f"{rescuer.node_id} after the rejoin")
            await asyncio.sleep(2.0)
        finally:
            inserter.stop()
        committed = inserter.ids()
        assert inserter.errors == 0
        await after.wait_for(set(committed) - set(before.ids()), timeout=60)
        await asyncio.sleep(0.5)
        got = before.ids() + after.ids()
        assert set(got) == set(committed), f"{len(set(committed) - set(got))} rows lost"
        assert len(got) == len(set(got)), f"{len(got) - len(set(got))} rows twice"
        assert got == sorted(got), "in commit order"
        assert not [p for _, p in after.systems if p["status"] == "error"], after.systems
        recovered = after.recovered
        assert recovered and recovered == after.ids()[:len(recovered)], "the recovered ones first, marked"
        moved = victim.metrics().get("realtime_resume_moved_total")
        print(f"\nparked on {victim.node_id}, rejoined on {rescuer.node_id} (holder {holder.node_id}) "
              f"answered in {t_reply:.2f}s; {len(committed)} rows, {len(before.ids())} before the cut, "
              f"{len(after.ids())} after ({len(recovered)} recovered), none twice; moved {moved}")
        assert moved == 1
        assert db.scalar("SELECT node_id FROM realtime.subscription WHERE id = %s", (sid,)) == rescuer.node_id
        assert parked_at(db, sid) is None
        assert victim.metrics().get("realtime_resume_parked") == 0, "forgotten where it was parked"
        await after.stop()
        await after.client.close()
        proxy.close()
    run(body(), timeout=240)


def test_a_node_that_stops_before_handing_over_what_it_kept_makes_the_rejoin_say_so(relay_factory, items, slot):
    db = items
    holder, victim, rescuer = three_nodes(relay_factory, db, slot)

    async def body():
        token = victim.token()
        proxy, c, topic, sid, before = await parked_client(victim, db, token)
        inserter = Inserter(db.dsn, period=0.005, rows=5)
        inserter.start()
        try:
            await before.wait_for(inserter.ids()[:1] or [], timeout=20)
            await asyncio.sleep(0.5)
            recorded = await cut_and_park(proxy, before, db, sid)
            await asyncio.sleep(1.0)
            os.kill(victim.pid, signal.SIGSTOP)  # it will not answer
            t_stop = time.monotonic()
            after = await rejoin_adopting(rescuer, token, topic, sid, f"{rescuer.node_id} after the rejoin")
            deadline = time.monotonic() + 20
            while not any(p["status"] == "error" for _, p in after.systems) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            victim.kill()
            await asyncio.sleep(1.0)
        finally:
            inserter.stop()
            victim.kill()
        errors = [(at, p) for at, p in after.systems if p["status"] == "error"]
        assert len(errors) == 1, after.systems
        at, error = errors[0]
        assert "Changes were missed" in error["message"], error
        assert recorded - 1 <= missed_since(error) <= recorded, (recorded, error)
        after_stop = [i for i, t in inserter.committed if t > t_stop]
        await after.wait_for(after_stop, timeout=60)
        got = after.ids()
        assert got == sorted(set(got)), "once each, in commit order"
        assert all(i in set(got[:at]) for i in after.recovered), "what the holder handed over before the error"
        print(f"\n{victim.node_id} stopped; the rejoin on {rescuer.node_id} got {len(got)} rows "
              f"({len(after.recovered)} recovered from the holder) and: {error['message']}")
        await after.stop()
        await after.client.close()
        proxy.close()
    run(body(), timeout=240)


def test_a_client_parked_on_a_node_that_crashes_and_restarts_is_told_what_died_with_it(relay_factory, items,
                                                                                        slot):
    db = items
    holder, victim, _ = three_nodes(relay_factory, db, slot)

    async def body():
        token = victim.token()
        inserter = Inserter(db.dsn, period=0.005, rows=5)  # about 500 rows/s
        inserter.start()
        try:
            topic, sid, before, recorded = await close_and_park(victim, db, token, inserter)
            await asyncio.sleep(1.5)  # the victim keeps, and confirms, what arrives meanwhile
            victim.kill()
            await asyncio.sleep(0.5)
            await asyncio.to_thread(victim.start)  # the same --node-id, within --resume-grace
            t_restart = time.monotonic()
            after = await rejoin_adopting(victim, token, topic, sid, f"{victim.node_id} after the restart")
            await asyncio.sleep(2.0)
        finally:
            inserter.stop()
        assert inserter.errors == 0
        after_restart = [i for i, t in inserter.committed if t > t_restart]
        await after.wait_for(after_restart, timeout=60)
        error, got, lost = await the_error_after_the_recovered(after, inserter, before)
        assert "the server that kept the changes while the connection was away stopped" in error["message"], error
        assert missed_since(error) == int(recorded), (recorded, error)  # the park's second
        print(f"\n{victim.node_id} killed 1.5s after the park and restarted; {len(inserter.ids())} rows, "
              f"{len(before.ids())} before the close, {len(got)} after the rejoin ({len(after.recovered)} "
              f"recovered), {len(lost)} died with its previous run, reported: {error['message']}")
        assert lost and max(lost) < min(after_restart), "only what the dead run kept is missing"
        # The clearing is written by the pool in its own batch, after the adoption.
        wait_until(lambda: parked_at(db, sid) is None, timeout=20, what="the adopted row no longer parked")
        await after.stop()
        await after.client.close()
    run(body(), timeout=240)


def test_realtime_js_coming_back_through_a_balancer_to_another_node_gets_every_row_once(relay_factory, items, slot):
    """realtime-js, unchanged, behind a balancer (the proxy) that sends its reconnection to
    another relay while the first one lives (tests/js/resume.mjs): every row once and in
    order, the recovered ones first, no system error."""
    from support.inserter import Inserter as RateInserter
    from support.realtime_js import require_node, run_scenario
    require_node()
    db = items
    db.execute("CREATE TABLE public.jsitems (id bigserial PRIMARY KEY, n int NOT NULL);"
               "GRANT SELECT ON public.jsitems TO anon, authenticated")
    holder, victim, rescuer = three_nodes(relay_factory, db, slot)
    proxy = CutProxy(victim.port)
    inserter = RateInserter(db.dsn, table="public.jsitems", rate=500)

    def restore():
        time.sleep(2)  # the victim keeps what arrives meanwhile
        proxy.target = ("127.0.0.1", rescuer.port)
        proxy.restore()

    def stop():
        inserter.stop()
        db.execute("INSERT INTO public.jsitems (n) VALUES (-1)")

    try:
        summary = run_scenario("resume.mjs", victim, db=db, deadline_s=90,
                               env={"RT_ENDPOINT": f"ws://127.0.0.1:{proxy.port}/socket", "RT_TABLE": "jsitems"},
                               actions={"start": inserter.start, "cut": proxy.cut, "restore": restore, "stop": stop})
    finally:
        proxy.close()
    assert summary["recovered"] > 0 and summary["rows"] == inserter.count
    assert victim.metrics().get("realtime_resume_moved_total") == 1
    assert rescuer.metrics().get("realtime_resume_not_handed_over_total") == 0
    print(f"\nrealtime-js: {summary['rows']} rows once and in order, {summary['recovered']} recovered, "
          f"parked on {victim.node_id}, resumed on {rescuer.node_id}")
