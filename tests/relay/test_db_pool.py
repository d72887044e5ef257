"""The database pool (issue 10, item 2): one client's slow database work never delays
another client's join nor this node's registry heartbeat; a statement past
--db-statement-timeout-ms answers the join with a clear error; a huge filter is
refused at once.

The slow statement is a real one: a filter value is parsed with the column type's input
function, and the column's domain has a CHECK that sleeps for one value (666)."""
import asyncio
import time

import pytest

from support.phoenix import PhoenixClient, assert_serves, join_config, run, unique_topic

TIMEOUT_MS = 1500
SLOW_SCHEMA = """
CREATE FUNCTION public.slow_check(v int) RETURNS boolean LANGUAGE sql AS
    $$ SELECT CASE WHEN v = 666 THEN pg_sleep(30) IS NOT NULL ELSE true END $$;
CREATE DOMAIN public.slow_int AS int CHECK (public.slow_check(VALUE));
CREATE TABLE public.slow_t (id int PRIMARY KEY, v public.slow_int);
CREATE TABLE public.fast_t (id int PRIMARY KEY, x int);
GRANT SELECT ON public.slow_t, public.fast_t TO anon, authenticated, service_role;
"""


@pytest.fixture
def slow_db(db, client_roles):
    db.execute(SLOW_SCHEMA)
    return db


@pytest.fixture
def pool_relay(relay_factory, slow_db):
    return relay_factory(db_dsn=slow_db.dsn, args=["--db-statement-timeout-ms", str(TIMEOUT_MS),
                                                   "--db-pool-size", "2"]).wait_slot()


def bindings(table, filter=None):
    b = {"event": "*", "schema": "public", "table": table}
    if filter is not None:
        b["filter"] = filter
    return [b]


async def send_join(client, topic, changes):
    """Sends a phx_join without waiting; returns its ref (the reply's)."""
    ref = client.next_ref()
    client.join_refs[topic] = ref
    await client.push(topic, "phx_join", {"config": join_config(changes=changes)}, join_ref=ref, ref=ref)
    return ref


def heartbeat_age_s(db, relay):
    return db.scalar("SELECT extract(epoch FROM now() - last_heartbeat)::float8 FROM realtime.nodes "
                     "WHERE node_id = %s", (relay.node_id,))


def test_a_timed_out_join_gets_an_error_reply_and_others_are_served(slow_db, pool_relay):
    async def body():
        attacker = await PhoenixClient.open(pool_relay)
        victim = await PhoenixClient.open(pool_relay)
        slow_topic = unique_topic("slow")
        slow_ref = await send_join(attacker, slow_topic, bindings("slow_t", "v=eq.666"))
        # The attacker's statement sleeps: the victim's join, queued after it, is answered
        # first (on another connection), long before the attacker's times out.
        fast_topic = unique_topic("fast")
        fast_ref = await send_join(victim, fast_topic, bindings("fast_t", "x=eq.1"))
        started = time.monotonic()
        reply = (await victim.reply(fast_ref, fast_topic, timeout=20))["payload"]
        assert reply["status"] == "ok", reply
        assert victim_first(attacker, slow_ref)
        err = (await attacker.reply(slow_ref, slow_topic, timeout=20))["payload"]
        assert err["status"] == "error", err
        assert "did not answer in time" in err["response"]["reason"], err
        assert time.monotonic() - started < 15  # the 30 s sleep was cut by the timeout
        # Nothing of the timed-out join survives; the attacker's socket still works.
        assert slow_db.scalar("SELECT count(*) FROM realtime.subscription WHERE entity = 'public.slow_t'::regclass") == 0
        assert (await attacker.heartbeat())["status"] == "ok"
        await assert_serves(pool_relay)
    run(body())


def victim_first(attacker, slow_ref):
    """The attacker has not had its reply yet (it is still waiting for the database)."""
    return not any(m["event"] == "phx_reply" and m["ref"] == slow_ref for m in attacker.inbox)


def test_slow_joins_of_one_client_hold_one_connection_and_never_the_heartbeat(slow_db, pool_relay):
    """The attacker keeps slow joins queued for longer than a peer's down period (3 s):
    every other client's join is answered at once, /api/health answers, and this node's
    registry heartbeat stays fresh throughout."""
    async def body():
        attacker = await PhoenixClient.open(pool_relay)
        pending = []
        for _ in range(4):  # 4 x 1.5 s of database time on the attacker's one connection
            topic = unique_topic("slow")
            pending.append((topic, await send_join(attacker, topic, bindings("slow_t", "v=eq.666"))))
        deadline = time.monotonic() + 5
        joins = 0
        while time.monotonic() < deadline:
            victim = await PhoenixClient.open(pool_relay)
            topic = unique_topic("fast")
            reply = await victim.join(topic, join_config(changes=bindings("fast_t", f"x=eq.{joins}")), timeout=3)
            assert reply["status"] == "ok", reply
            joins += 1
            await victim.close()
            assert pool_relay.health() is not None
            age = heartbeat_age_s(slow_db, pool_relay)
            assert age is not None and age < 2.5, f"registry heartbeat {age:.1f} s old during the attack"
            await asyncio.sleep(0.2)
        assert joins >= 5
        for topic, ref in pending:
            err = (await attacker.reply(ref, topic, timeout=20))["payload"]
            assert err["status"] == "error" and "did not answer in time" in err["response"]["reason"], err
        await assert_serves(pool_relay)
    run(body())


def test_a_huge_filter_is_refused_at_once_and_delays_nobody(slow_db, pool_relay):
    async def body():
        attacker = await PhoenixClient.open(pool_relay)
        victim = await PhoenixClient.open(pool_relay)
        huge = "x=in.(" + ",".join(str(i) for i in range(20000)) + ")"  # ~120 KB
        assert len(huge) > 100_000
        topic = unique_topic("huge")
        started = time.monotonic()
        reply = await attacker.join(topic, join_config(changes=bindings("fast_t", huge)), timeout=20)
        # As Supabase: the join is OK, the binding that cannot be subscribed keeps its
        # place (an id below zero) and is told in a system error.
        assert reply["status"] == "ok", reply
        assert reply["response"]["postgres_changes"][0]["id"] < 0, reply
        system = await attacker.expect_event(topic, "system", timeout=20)
        assert system["payload"]["status"] == "error", system
        assert "16384" in system["payload"]["message"] or "too long" in system["payload"]["message"], system
        assert time.monotonic() - started < 5
        ok = await victim.join(unique_topic("fast"), join_config(changes=bindings("fast_t", "x=eq.1")), timeout=5)
        assert ok["status"] == "ok", ok
        assert pool_relay.health() is not None
    run(body())
