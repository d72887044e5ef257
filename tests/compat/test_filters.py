"""postgres_changes filters through the relay, as Supabase's postgres_changes_filters_test
runs them (test/integration/rt_channel/postgres_changes_filters_test.exs; grammar in
lib/extensions/postgres_cdc_rls/subscriptions.ex): every operator, `not.`, and
comma-ANDed conditions, on INSERT, UPDATE and DELETE of a REPLICA IDENTITY FULL table.
Each case has a row its filter matches (all three events arrive, with its binding's id)
and a row it does not (nothing arrives for it)."""
from support.phoenix import PhoenixClient, run, unique_topic

from .helpers import binding, postgres_change, subscribed

# filter: (value of the matching row, value of the row that must not match)
CASES = {
    "details=eq.hello": ("hello", "other"),
    "details=neq.other": ("hello", "other"),
    "details=lt.m": ("a", "z"),
    "details=lte.m": ("m", "z"),
    "details=gt.a": ("z", "a"),
    "details=gte.z": ("z", "a"),
    "details=in.(hello,world)": ("hello", "other"),
    "details=like.hel%": ("hello", "xhello"),
    "details=ilike.HEL%": ("hello", "xhello"),
    "details=is.null": (None, "x"),
    "details=match.^hel": ("hello", "ohel"),
    "details=imatch.^HEL": ("hello", "ohel"),
    "details=isdistinct.other": ("hello", "other"),
    "details=not.eq.skip": ("keep", "skip"),
    "details=eq.match,id=gt.0": ("match", "no-match"),
    "details=not.like.skip%,details=not.is.null": ("keep", "skipme"),
}


def test_every_operator_on_insert_update_and_delete(cdc):
    db, relay = cdc
    db.execute("ALTER TABLE test REPLICA IDENTITY FULL")

    async def body():
        c = await PhoenixClient.open(relay, "2.0.0")
        subs, failed = {}, {}  # filter -> (topic, binding id) / what went wrong
        for f in CASES:
            topic = unique_topic("filter")
            try:
                [sid] = await subscribed(c, topic, [binding(filter=f)])
                subs[f] = (topic, sid)
            except (AssertionError, TimeoutError) as exc:
                failed[f] = f"not subscribed: {exc}"
        rows = {}  # filter -> (matching row id, other row id)
        for f, (yes, no) in CASES.items():
            rows[f] = tuple(db.scalar("INSERT INTO test (details) VALUES (%s) RETURNING id", (v,)) for v in (yes, no))
        for f, (yes, no) in CASES.items():
            for rid, v in zip(rows[f], (yes, no)):
                db.execute("UPDATE test SET details = %s WHERE id = %s", (v, rid))
        db.execute("DELETE FROM test")
        for f, (topic, sid) in subs.items():
            problem = await check_deliveries(c, topic, sid, *rows[f])
            if problem:
                failed[f] = problem
        assert not failed, "\n".join(f"{f}: {why}" for f, why in failed.items())
    run(body())


def row_id(data):
    return (data.get("record") or data["old_record"])["id"]


async def check_deliveries(client, topic, sid, match, other):
    """None when the channel got INSERT, UPDATE, DELETE of the matching row with its
    binding's id and nothing about the other row; otherwise what was wrong."""
    seen = []
    try:
        while len(seen) < 3:
            p = await postgres_change(client, topic, timeout=20)
            if row_id(p["data"]) == other:
                return f"the non-matching row arrived: {p['data']}"
            if row_id(p["data"]) == match:
                if p["ids"] != [sid]:
                    return f"ids {p['ids']}, not [{sid}]"
                seen.append(p["data"]["type"])
        await client.assert_silent(0.3, lambda m: m["topic"] == topic and m["event"] == "postgres_changes"
                                   and row_id(m["payload"]["data"]) == other)
    except (AssertionError, TimeoutError) as exc:
        return f"got {seen}: {exc}"
    return None if seen == ["INSERT", "UPDATE", "DELETE"] else f"got {seen}"
