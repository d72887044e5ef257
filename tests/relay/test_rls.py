"""Row level security through the relay, with real WebSocket clients (issue 11): a change
reaches a subscriber only if that user may SELECT the row image, with only the columns
it may SELECT; policies the plugin compiles and policies checked by the slot holder
(realtime.check_rows on the database pool, batched); authorization following the WAL
(RLS, FORCE and REVOKE after subscribing, a column added later); a policy that raises
for one user hurts only that user. Tokens carry Supabase's API roles and claims."""
import uuid

import pytest

from support.changes import binding, change, changes_until_marker, row_of, subscribe, subscribed, system_error
from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run

U1, U2, U3 = (str(uuid.UUID(int=i)) for i in (1, 2, 3))
ORG_A, ORG_B = str(uuid.UUID(int=100)), str(uuid.UUID(int=200))

TODOS = """
CREATE TABLE public.todos (id bigserial PRIMARY KEY, user_id uuid, org_id uuid, title text, secret text);
ALTER TABLE public.todos REPLICA IDENTITY FULL;
GRANT SELECT ON public.todos TO authenticated, service_role;
GRANT SELECT (id, title) ON public.todos TO anon;
CREATE TABLE public.marker (id serial PRIMARY KEY);
GRANT SELECT ON public.marker TO anon, authenticated, service_role;
CREATE TABLE public.members (org_id uuid, user_id uuid);
GRANT SELECT ON public.members TO authenticated;
"""


@pytest.fixture
def todos(app_db):
    app_db.execute(TODOS)
    return app_db


async def client_of(relay, vsn="2.0.0", role="authenticated", sub=None, **claims):
    extra = {"sub": sub} if sub else {}
    return await PhoenixClient.open(relay, vsn, token=relay.token(role=role, **extra, **claims))


async def joined(relay, vsn="2.0.0", bindings=None, **who):
    """A client subscribed to todos (and the marker table, which closes each step)."""
    c = await client_of(relay, vsn, **who)
    topic, ids = await subscribe(c, bindings or [binding(), binding(table="marker")])
    return c, topic, ids


async def until_marker(db, clients):
    """Per client, [(type, row, data)] of the todos changes before a marker row."""
    got = await changes_until_marker(db, clients)
    return [[(d["type"], row_of(d), d) for d in seen] for seen in got]


def titles(seen):
    return [r["title"] for _, r, _ in seen]


def test_compiled_policy_each_user_gets_its_own_rows(todos, pg_relay, vsn):
    """auth.uid() = user_id, as Supabase's documentation writes it: each user its rows,
    service_role (BYPASSRLS) all of them, anon (no policy for it) none; DELETE with
    REPLICA IDENTITY FULL checks the old row."""
    db = todos
    db.execute("ALTER TABLE todos ENABLE ROW LEVEL SECURITY; "
               "CREATE POLICY own ON todos FOR SELECT TO authenticated USING (auth.uid() = user_id)")

    async def body():
        one = await joined(pg_relay, vsn, sub=U1)
        two = await joined(pg_relay, vsn, sub=U2)
        svc = await joined(pg_relay, vsn, role="service_role")
        anon = await joined(pg_relay, vsn, role="anon")
        a = db.scalar("INSERT INTO todos (user_id, title) VALUES (%s, 'a') RETURNING id", (U1,))
        db.execute("INSERT INTO todos (user_id, title) VALUES (%s, 'b')", (U2,))
        db.execute("UPDATE todos SET title = 'a2' WHERE id = %s", (a,))
        db.execute("DELETE FROM todos WHERE id = %s", (a,))
        got = await until_marker(db, [(c, t) for c, t, _ in (one, two, svc, anon)])
        assert [(k, r["title"]) for k, r, _ in got[0]] == [("INSERT", "a"), ("UPDATE", "a2"), ("DELETE", "a2")]
        assert titles(got[1]) == ["b"]
        assert titles(got[2]) == ["a", "b", "a2", "a2"]
        assert got[3] == []
    run(body())


def test_column_privileges_narrow_record_old_record_and_columns(todos, pg_relay, vsn):
    """anon may SELECT (id, title) only: it receives those columns, in record,
    old_record and columns; a role with the table privilege receives them all."""
    db = todos

    async def body():
        anon = await joined(pg_relay, vsn, role="anon")
        auth = await joined(pg_relay, vsn, sub=U1)
        rid = db.scalar("INSERT INTO todos (user_id, title, secret) VALUES (%s, 't', 's') RETURNING id", (U1,))
        db.execute("UPDATE todos SET title = 't2' WHERE id = %s", (rid,))
        got = await until_marker(db, [(anon[0], anon[1]), (auth[0], auth[1])])
        (_, ins, di), (_, upd, du) = got[0]
        assert ins == {"id": rid, "title": "t"}
        assert [c["name"] for c in di["columns"]] == ["id", "title"]
        assert upd == {"id": rid, "title": "t2"} and du["old_record"] == {"id": rid, "title": "t"}
        assert "secret" not in str(di) and "secret" not in str(du)
        (_, full, df), _ = got[1]
        assert full["secret"] == "s" and full["user_id"] == U1
        assert [c["name"] for c in df["columns"]] == ["id", "user_id", "org_id", "title", "secret"]
    run(body())


def test_general_path_membership_policy(todos, pg_relay, vsn):
    """A membership sub-select is checked by the slot holder (realtime.check_rows) with the
    membership as it is when the check runs: a user added to an org receives its rows
    from then on; users of other orgs never."""
    db = todos
    db.execute("ALTER TABLE todos ENABLE ROW LEVEL SECURITY; "
               "CREATE POLICY member ON todos FOR SELECT TO authenticated USING ("
               "org_id IN (SELECT m.org_id FROM members m WHERE m.user_id = auth.uid()))")
    db.execute("INSERT INTO members VALUES (%s, %s), (%s, %s)", (ORG_A, U1, ORG_B, U2))

    async def body():
        one = await joined(pg_relay, vsn, sub=U1)
        two = await joined(pg_relay, vsn, sub=U2)
        three = await joined(pg_relay, vsn, sub=U3)
        for org, title in ((ORG_A, "a1"), (ORG_B, "b1"), (ORG_A, "a2")):
            db.execute("INSERT INTO todos (org_id, title) VALUES (%s, %s)", (org, title))
        got = await until_marker(db, [(c, t) for c, t, _ in (one, two, three)])
        assert [titles(g) for g in got] == [["a1", "a2"], ["b1"], []]
        db.execute("INSERT INTO members VALUES (%s, %s)", (ORG_B, U3))
        db.execute("INSERT INTO todos (org_id, title) VALUES (%s, 'b2')", (ORG_B,))
        got = await until_marker(db, [(c, t) for c, t, _ in (one, two, three)])
        assert [titles(g) for g in got] == [[], ["b2"], ["b2"]]
        assert int(pg_relay.metrics().get("realtime_rls_check_calls_total", 0)) >= 1
    run(body())


RAISING = """
CREATE FUNCTION public.allowed(uid uuid) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF uid = '00000000-0000-0000-0000-000000000003' THEN
        RAISE EXCEPTION 'policy evaluation failed for this user';
    END IF;
    RETURN true;
END $$;
GRANT EXECUTE ON FUNCTION public.allowed(uuid) TO authenticated;
ALTER TABLE todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY guarded ON todos FOR SELECT TO authenticated USING (public.allowed(auth.uid()) AND user_id = auth.uid());
"""


def test_a_policy_that_raises_for_one_user_hurts_only_that_user(todos, pg_relay, vsn):
    """Supabase's bug #2093: one subscriber whose policy raises must not stop delivery for
    anyone else. The raising user is told once (a system error for its binding) and gets
    nothing; the others receive their rows, in order, without delay."""
    db = todos
    db.execute(RAISING)

    async def body():
        one = await joined(pg_relay, vsn, sub=U1)
        two = await joined(pg_relay, vsn, sub=U2)
        bad = await joined(pg_relay, vsn, sub=U3)
        for n in range(6):
            db.execute("INSERT INTO todos (user_id, title) VALUES (%s, %s)", ((U1, U2, U3)[n % 3], f"t{n}"))
        got = await until_marker(db, [(one[0], one[1]), (two[0], two[1])])
        assert titles(got[0]) == ["t0", "t3"] and titles(got[1]) == ["t1", "t4"]
        message = await system_error(bad[0], bad[1])
        assert "policy evaluation failed for this user" in message
        got = await until_marker(db, [(bad[0], bad[1])])
        assert got == [[]]
        await bad[0].assert_silent(0.5, lambda m: m["event"] == "system")  # told once
    run(body())


def test_rls_enabled_after_subscribing_applies_to_later_changes(todos, pg_relay, vsn):
    db = todos

    async def body():
        one = await joined(pg_relay, vsn, sub=U1)
        db.execute("INSERT INTO todos (user_id, title) VALUES (%s, 'before')", (U2,))
        db.execute("ALTER TABLE todos ENABLE ROW LEVEL SECURITY; "
                   "CREATE POLICY own ON todos FOR SELECT USING (auth.uid() = user_id)")
        db.execute("INSERT INTO todos (user_id, title) VALUES (%s, 'theirs')", (U2,))
        db.execute("INSERT INTO todos (user_id, title) VALUES (%s, 'mine')", (U1,))
        got = await until_marker(db, [(one[0], one[1])])
        assert titles(got[0]) == ["before", "mine"]
    run(body())


def test_force_after_subscribing_applies_to_the_owner(todos, pg_relay, vsn):
    """The table's owner bypasses its policies until FORCE ROW LEVEL SECURITY."""
    db = todos
    db.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rt_rls_owner') THEN "
               "CREATE ROLE rt_rls_owner NOLOGIN; END IF; END $$")
    db.execute("GRANT USAGE ON SCHEMA public TO rt_rls_owner; ALTER TABLE todos OWNER TO rt_rls_owner; "
               "ALTER TABLE todos ENABLE ROW LEVEL SECURITY; "
               "CREATE POLICY own ON todos FOR SELECT USING (auth.uid() = user_id); "
               "GRANT SELECT ON marker TO rt_rls_owner")

    async def body():
        owner = await joined(pg_relay, vsn, role="rt_rls_owner", sub=U1)
        db.execute("INSERT INTO todos (user_id, title) VALUES (%s, 'seen by the owner')", (U2,))
        db.execute("ALTER TABLE todos FORCE ROW LEVEL SECURITY")
        db.execute("INSERT INTO todos (user_id, title) VALUES (%s, 'forced away')", (U2,))
        db.execute("INSERT INTO todos (user_id, title) VALUES (%s, 'own')", (U1,))
        got = await until_marker(db, [(owner[0], owner[1])])
        assert titles(got[0]) == ["seen by the owner", "own"]
    run(body())


def test_revoke_after_subscribing_ends_the_binding(todos, pg_relay, vsn):
    """A REVOKE applies to the next change: the subscriber gets a system error for that
    binding and nothing more from it; its row goes; its other bindings and the channel
    keep working."""
    db = todos

    async def body():
        c, topic, (sid, marker_id) = await joined(pg_relay, vsn, sub=U1)
        db.execute("INSERT INTO todos (title) VALUES ('before')")
        assert (await change(c, topic))["data"]["record"]["title"] == "before"
        db.execute("REVOKE SELECT ON todos FROM authenticated")
        db.execute("INSERT INTO todos (title) VALUES ('after')")
        assert "permission denied" in await system_error(c, topic)
        wait_until(lambda: db.scalar("SELECT count(*) FROM realtime.subscription WHERE id = %s", (sid,)) == 0,
                   timeout=10, what="the ended binding's row to go")
        db.execute("GRANT SELECT ON todos TO authenticated")
        db.execute("INSERT INTO todos (title) VALUES ('granted again')")
        got = await until_marker(db, [(c, topic)])
        assert got == [[]], "an ended binding stays ended"
        other = await client_of(pg_relay, vsn, sub=U2)
        await other.join(topic)
        await other.broadcast(topic, "still", {})
        assert (await c.expect_event(topic, "broadcast"))["payload"]["event"] == "still"
    run(body())


def test_a_column_added_later_reaches_only_roles_with_the_table_privilege(todos, pg_relay, vsn):
    db = todos

    async def body():
        anon = await joined(pg_relay, vsn, role="anon")
        auth = await joined(pg_relay, vsn, sub=U1)
        db.execute("ALTER TABLE todos ADD COLUMN added text")
        db.execute("INSERT INTO todos (title, added) VALUES ('t', 'new')")
        got = await until_marker(db, [(anon[0], anon[1]), (auth[0], auth[1])])
        [(_, ra, da)], [(_, rb, db_)] = got
        assert ra == {"id": ra["id"], "title": "t"} and "added" not in str(da)
        assert rb["added"] == "new"
    run(body())


def test_checks_are_batched_and_keep_commit_order(todos, pg_relay):
    """Many changes under a membership policy: far fewer realtime.check_rows calls than
    changes (documents accumulate while a call is in flight), and every subscriber
    receives its rows in commit order, interleaved with rows that need no check."""
    db = todos
    db.execute("ALTER TABLE todos ENABLE ROW LEVEL SECURITY; "
               "CREATE POLICY member ON todos FOR SELECT TO authenticated USING ("
               "org_id IN (SELECT m.org_id FROM members m WHERE m.user_id = auth.uid()))")
    db.execute("INSERT INTO members VALUES (%s, %s)", (ORG_A, U1))
    n = 300

    async def body():
        member = await joined(pg_relay, "2.0.0", sub=U1)
        svc = await joined(pg_relay, "2.0.0", role="service_role")
        before = int(pg_relay.metrics().get("realtime_rls_check_calls_total", 0))
        db.execute("INSERT INTO todos (org_id, title) SELECT %s, 't' || g FROM generate_series(1, %s) g",
                   (ORG_A, n))
        got = await until_marker(db, [(member[0], member[1]), (svc[0], svc[1])])
        want = [f"t{g}" for g in range(1, n + 1)]
        assert titles(got[0]) == want and titles(got[1]) == want
        calls = int(pg_relay.metrics().get("realtime_rls_check_calls_total", 0)) - before
        assert 1 <= calls < n / 2, calls
    run(body())


def test_access_token_refresh_applies_the_new_claims(todos, pg_relay, vsn):
    """A refreshed token's claims decide the changes committed after the subscriptions
    took them (compiled policy on the subject): the rows of the new subject, no longer
    the old one's."""
    db = todos
    db.execute("ALTER TABLE todos ENABLE ROW LEVEL SECURITY; "
               "CREATE POLICY own ON todos FOR SELECT TO authenticated USING (auth.uid() = user_id)")

    async def body():
        c, topic, (sid, _) = await joined(pg_relay, vsn, sub=U1)
        db.execute("INSERT INTO todos (user_id, title) VALUES (%s, 'u1 before'), (%s, 'u2 before')", (U1, U2))
        assert titles((await until_marker(db, [(c, topic)]))[0]) == ["u1 before"]
        await c.push(topic, "access_token", {"access_token": pg_relay.token(role="authenticated", sub=U2)})
        wait_until(lambda: db.scalar("SELECT claims->>'sub' FROM realtime.subscription WHERE id = %s", (sid,)) == U2,
                   timeout=10, what="the subscription to take the new token's claims")
        db.execute("INSERT INTO todos (user_id, title) VALUES (%s, 'u1 after'), (%s, 'u2 after')", (U1, U2))
        assert titles((await until_marker(db, [(c, topic)]))[0]) == ["u2 after"]
    run(body())


def test_access_token_refresh_to_a_role_without_access_ends_the_binding(todos, pg_relay, vsn):
    """A new token whose role may not read the table: that binding gets a system error
    and nothing more (its row goes); the channel's other binding keeps receiving, as the
    new role may read it."""
    db = todos
    db.execute("REVOKE SELECT ON todos FROM anon")

    async def body():
        c, topic, (sid, marker_id) = await joined(pg_relay, vsn, sub=U1)
        await c.push(topic, "access_token", {"access_token": pg_relay.token(role="anon")})
        assert "permission denied" in await system_error(c, topic)
        assert db.scalar("SELECT count(*) FROM realtime.subscription WHERE id = %s", (sid,)) == 0
        wait_until(lambda: db.scalar("SELECT claims_role FROM realtime.subscription WHERE id = %s",
                                     (marker_id,)) == "anon", timeout=10, what="the marker binding's new role")
        db.execute("INSERT INTO todos (title) VALUES ('not for anon')")
        assert (await until_marker(db, [(c, topic)])) == [[]]
    run(body())


@pytest.mark.parametrize("table", [None, "*"], ids=["no-table", "table-star"])
def test_whole_schema_binding_covers_every_table_the_user_may_read(todos, pg_relay, table):
    """{event: '*', schema: 'public'} (and table '*'): every table of the schema in the
    publication supabase_realtime, each decided as a binding naming it would be (row
    level security, column privileges), tables created later included; a table the role
    may not read is not delivered and does not end the binding."""
    db = todos
    db.execute("ALTER PUBLICATION supabase_realtime ADD TABLES IN SCHEMA public; "
               "ALTER TABLE todos ENABLE ROW LEVEL SECURITY; "
               "CREATE POLICY own ON todos FOR SELECT TO authenticated USING (auth.uid() = user_id); "
               "CREATE TABLE public.hidden (id serial PRIMARY KEY, note text)")

    async def body():
        c = await client_of(pg_relay, sub=U1)
        schema_wide = binding(table=table)
        topic, _ = await subscribe(c, [schema_wide])
        db.execute("INSERT INTO todos (user_id, title) VALUES (%s, 'mine'), (%s, 'theirs')", (U1, U2))
        db.execute("INSERT INTO hidden (note) VALUES ('not granted')")
        db.execute("INSERT INTO members VALUES (%s, %s)", (ORG_A, U1))
        db.execute("CREATE TABLE public.later (id serial PRIMARY KEY, v text); "
                   "GRANT SELECT ON public.later TO authenticated")
        db.execute("INSERT INTO later (v) VALUES ('created after the join')")
        got = [d for d in (await changes_until_marker(db, [(c, topic)]))[0]]
        assert [(d["table"], row_of(d).get("title") or row_of(d).get("v") or row_of(d).get("org_id"))
                for d in got] == [("todos", "mine"), ("members", ORG_A), ("later", "created after the join")]
        await c.assert_silent(0.3, lambda m: m["event"] == "system")
    run(body())


def test_select_sends_the_chosen_columns_and_the_key(todos, pg_relay, vsn):
    """select: record, old_record and columns hold the chosen columns and the primary
    key; a select of a column the role may not read is refused for that binding only (a
    system error), and a select on a whole schema gets Supabase's refusal."""
    db = todos

    async def body():
        c = await client_of(pg_relay, vsn, sub=U1)
        topic, (sid, marker_id) = await subscribe(c, [binding(select=["title"]), binding(table="marker")])
        rid = db.scalar("INSERT INTO todos (user_id, title, secret) VALUES (%s, 't', 's') RETURNING id", (U1,))
        db.execute("UPDATE todos SET title = 't2' WHERE id = %s", (rid,))
        db.execute("DELETE FROM todos WHERE id = %s", (rid,))
        (_, ins, di), (_, upd, du), (_, dele, dd) = (await until_marker(db, [(c, topic)]))[0]
        assert ins == {"id": rid, "title": "t"} and [x["name"] for x in di["columns"]] == ["id", "title"]
        assert upd == {"id": rid, "title": "t2"} and du["old_record"] == {"id": rid, "title": "t"}
        assert dd["old_record"] == {"id": rid, "title": "t2"} and "secret" not in str(dd)

        anon = await client_of(pg_relay, vsn, role="anon")
        bad, whole = binding(select=["title", "secret"]), binding(table=None, select=["id"])
        reply = await anon.join("realtime:sel", join_config(changes=[bad, whole, binding(table="marker")]))
        assert reply["status"] == "ok", reply
        messages = [await system_error(anon, "realtime:sel") for _ in range(2)]
        assert any("permission denied" in m and "secret" in m for m in messages), messages
        assert "Column selection is not supported for wildcard subscriptions" in " ".join(messages)
        await subscribed(anon, "realtime:sel")
        db.execute("INSERT INTO marker DEFAULT VALUES")
        assert (await change(anon, "realtime:sel"))["data"]["table"] == "marker"
    run(body())
