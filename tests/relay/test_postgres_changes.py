"""Postgres Changes through the relay: bindings in phx_join become subscription rows,
the join reply echoes them with ids, "Subscribed to PostgreSQL" once they are live,
INSERT / UPDATE / DELETE delivered with the right ids to matching channels only, bad
bindings answered with a system error (the database's message) beside the good ones, rows
removed on leave (parked on disconnect),
broadcasts from SQL, and rows of tables with row level security as their policies say."""
import asyncio

import pytest

from support.changes import binding, change, subscribe
from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run, unique_topic

TODOS = """
CREATE TABLE public.todos (
    id         bigserial PRIMARY KEY,
    user_id    int,
    title      text,
    done       boolean NOT NULL DEFAULT false,
    tags       text[],
    meta       jsonb,
    amount     numeric,
    due        timestamptz
);
GRANT SELECT ON public.todos TO anon, authenticated, service_role;
CREATE TABLE public.other (id bigserial PRIMARY KEY, note text);
GRANT SELECT ON public.other TO anon, authenticated, service_role;
"""


@pytest.fixture
def todos(db, client_roles):
    db.execute(TODOS)
    return db


def node_rows(db, relay):
    return db.scalar("SELECT count(*) FROM realtime.subscription WHERE node_id = %s", (relay.node_id,))


def test_insert_update_delete(todos, pg_relay, vsn):
    db = todos

    async def body():
        c = await PhoenixClient.open(pg_relay, vsn)
        topic, [sid] = await subscribe(c, [binding()])
        assert db.scalar("SELECT node_id FROM realtime.subscription WHERE id = %s", (sid,)) == pg_relay.node_id
        assert db.scalar("SELECT claims->>'role' FROM realtime.subscription WHERE id = %s", (sid,)) == "anon"

        rid = db.scalar("INSERT INTO todos (user_id, title) VALUES (1, 'buy milk') RETURNING id")
        p = await change(c, topic)
        assert p["ids"] == [sid]
        d = p["data"]
        assert (d["schema"], d["table"], d["type"]) == ("public", "todos", "INSERT")
        assert d["record"]["id"] == rid and d["record"]["title"] == "buy milk"
        assert "old_record" not in d
        assert d["errors"] is None
        assert isinstance(d["commit_timestamp"], str) and d["commit_timestamp"].startswith("20")

        db.execute("UPDATE todos SET done = true WHERE id = %s", (rid,))
        p = await change(c, topic)
        assert p["ids"] == [sid]
        d = p["data"]
        assert d["type"] == "UPDATE"
        assert d["record"]["done"] is True and d["record"]["title"] == "buy milk"
        assert d["old_record"] == {"id": rid}  # replica identity DEFAULT: the key

        db.execute("DELETE FROM todos WHERE id = %s", (rid,))
        p = await change(c, topic)
        assert p["ids"] == [sid]
        d = p["data"]
        assert d["type"] == "DELETE"
        assert "record" not in d
        assert d["old_record"] == {"id": rid}
        await c.close()
    run(body())


def test_typed_columns_and_full_old_record(todos, pg_relay):
    db = todos
    db.execute("ALTER TABLE todos REPLICA IDENTITY FULL")

    async def body():
        c = await PhoenixClient.open(pg_relay, "2.0.0")
        topic, [sid] = await subscribe(c, [binding()])
        rid = db.scalar(
            "INSERT INTO todos (user_id, title, done, tags, meta, amount, due) VALUES "
            "(42, 'typed', true, ARRAY['a','b'], '{\"k\": [1, 2]}', 12.50, '2026-01-02 03:04:05+00') RETURNING id")
        d = (await change(c, topic))["data"]
        types = {col["name"]: col["type"] for col in d["columns"]}
        assert types == {"id": "int8", "user_id": "int4", "title": "text", "done": "bool", "tags": "_text",
                         "meta": "jsonb", "amount": "numeric", "due": "timestamptz"}
        assert [col["name"] for col in d["columns"]] == ["id", "user_id", "title", "done", "tags", "meta",
                                                          "amount", "due"]
        r = d["record"]
        assert r["id"] == rid and r["user_id"] == 42 and r["done"] is True
        assert r["meta"] == {"k": [1, 2]}
        assert r["tags"] == ["a", "b"]  # arrays as JSON arrays (the relay asks the plugin for them)
        assert float(r["amount"]) == 12.5
        assert r["due"].startswith("2026-01-02")

        db.execute("UPDATE todos SET title = 'changed', meta = NULL WHERE id = %s", (rid,))
        d = (await change(c, topic))["data"]
        assert d["record"]["title"] == "changed" and d["record"]["meta"] is None
        assert d["old_record"] == r  # REPLICA IDENTITY FULL: the whole old row

        db.execute("DELETE FROM todos WHERE id = %s", (rid,))
        d = (await change(c, topic))["data"]
        assert d["old_record"]["title"] == "changed" and d["old_record"]["user_id"] == 42
        await c.close()
    run(body())


def test_filters_and_events_reach_matching_subscribers_only(todos, pg_relay, vsn):
    db = todos
    db.execute("ALTER TABLE todos REPLICA IDENTITY FULL")  # DELETE filters need the old row

    async def body():
        one = await PhoenixClient.open(pg_relay, vsn)
        two = await PhoenixClient.open(pg_relay, vsn)
        inserts = await PhoenixClient.open(pg_relay, vsn)
        other_table = await PhoenixClient.open(pg_relay, vsn)
        t1, [id1] = await subscribe(one, [binding(filter="user_id=eq.1")])
        t2, [id2] = await subscribe(two, [binding(filter="user_id=eq.2")])
        ti, [idi] = await subscribe(inserts, [binding(event="INSERT")])
        to, [ido] = await subscribe(other_table, [binding(table="other")])

        r1 = db.scalar("INSERT INTO todos (user_id, title) VALUES (1, 'for one') RETURNING id")
        p = await change(one, t1)
        assert p["ids"] == [id1] and p["data"]["record"]["id"] == r1
        p = await change(inserts, ti)
        assert p["ids"] == [idi] and p["data"]["record"]["id"] == r1

        r2 = db.scalar("INSERT INTO todos (user_id, title) VALUES (2, 'for two') RETURNING id")
        p = await change(two, t2)
        assert p["ids"] == [id2] and p["data"]["record"]["id"] == r2
        p = await change(inserts, ti)
        assert p["data"]["record"]["id"] == r2

        # An UPDATE that moves the row to user 2: filters apply to the new row.
        db.execute("UPDATE todos SET user_id = 2 WHERE id = %s", (r1,))
        p = await change(two, t2)
        assert p["data"]["type"] == "UPDATE" and p["data"]["record"]["id"] == r1
        # DELETE: filters apply to the old row.
        db.execute("DELETE FROM todos WHERE id = %s", (r2,))
        p = await change(two, t2)
        assert p["data"]["type"] == "DELETE" and p["data"]["old_record"]["id"] == r2

        # A change for the other table closes the stream: everything before it has
        # arrived wherever it was going, so nothing else may be waiting.
        db.execute("INSERT INTO other (note) VALUES ('marker')")
        p = await change(other_table, to)
        assert p["ids"] == [ido]
        for c, topic in ((one, t1), (two, t2), (inserts, ti), (other_table, to)):
            await c.assert_silent(0.3, lambda m, topic=topic: m["event"] == "postgres_changes")
        for c in (one, two, inserts, other_table):
            await c.close()
    run(body())


def test_ids_are_the_channels_own(todos, pg_relay, vsn):
    """Each message carries the ids of the bindings of that channel that match: one
    message for two matching bindings of a channel, and no other client's ids."""
    db = todos

    async def body():
        a = await PhoenixClient.open(pg_relay, vsn)
        b = await PhoenixClient.open(pg_relay, vsn)
        ta, ids_a = await subscribe(a, [binding(event="INSERT", filter="user_id=eq.7"), binding(event="*"),
                                        binding(event="DELETE")])
        tb, [id_b] = await subscribe(b, [binding()])
        db.execute("INSERT INTO todos (user_id, title) VALUES (7, 'x')")
        p = await change(a, ta)
        assert sorted(p["ids"]) == sorted(ids_a[:2])
        p = await change(b, tb)
        assert p["ids"] == [id_b]
        db.execute("INSERT INTO todos (user_id, title) VALUES (8, 'y')")
        p = await change(a, ta)
        assert p["ids"] == [ids_a[1]]
        p = await change(b, tb)
        assert p["ids"] == [id_b]
        # One message per change for a channel, however many of its bindings match.
        await a.assert_silent(0.3, lambda m: m["event"] == "postgres_changes")
        for c in (a, b):
            await c.close()
    run(body())


def test_change_right_after_subscribed_is_delivered(todos, pg_relay, vsn):
    """Supabase says SUBSCRIBED before its subscription can match anything; here the
    system message means live: a row committed right after it is delivered."""
    db = todos

    async def body():
        for i in range(5):
            c = await PhoenixClient.open(pg_relay, vsn)
            topic, [sid] = await subscribe(c, [binding(filter=f"user_id=eq.{100 + i}")])
            rid = db.scalar("INSERT INTO todos (user_id) VALUES (%s) RETURNING id", (100 + i,))
            p = await change(c, topic)
            assert p["ids"] == [sid] and p["data"]["record"]["id"] == rid
            await c.close()
    run(body())


def test_join_reply_echoes_bindings_in_order(todos, pg_relay):
    async def body():
        c = await PhoenixClient.open(pg_relay, "2.0.0")
        bindings = [binding(event="INSERT", filter="user_id=eq.1"), binding(table="other"),
                    binding(event="DELETE"), binding(event="UPDATE", filter="title=in.(a,b)")]
        topic, ids = await subscribe(c, bindings)
        rows = todos.execute("SELECT id, entity::text, action_filter, filter FROM realtime.subscription "
                             "ORDER BY id")
        assert [r[0] for r in rows] == sorted(ids)
        by_id = {r[0]: r[1:] for r in rows}
        assert [by_id[i] for i in ids] == [("todos", "INSERT", "user_id=eq.1"), ("other", "*", None),
                                           ("todos", "DELETE", None), ("todos", "UPDATE", "title=in.(a,b)")]
        await c.close()
    run(body())


@pytest.mark.parametrize("bad,message", [
    (binding(table="nope"), "Please check Realtime is enabled for the given connect parameters: "
                            "[event: *, schema: public, table: nope, filters: [], select: nil]"),
    (binding(filter="nope=eq.1"), 'Exception: column "nope" does not exist'),
    (binding(filter="user_id=foo.1"), 'Error parsing `filter` params: ["foo", "1"]'),
    (binding(filter="user_id=eq.abc"), 'Exception: invalid value "abc"'),
    (binding(filter="user_id"), 'Error parsing `filter` params: ["user_id"]'),
], ids=["unknown-table", "unknown-column", "bad-operator", "bad-value", "malformed"])
def test_bad_binding_is_a_system_error_beside_the_good_ones(todos, pg_relay, vsn, bad, message):
    """A binding that cannot be subscribed: the join is OK and echoes it with an id, its
    channel gets a system error (Supabase's text, the database's message where it has one),
    and the channel's other binding is subscribed and delivers."""
    async def body():
        c = await PhoenixClient.open(pg_relay, vsn)
        topic = unique_topic("db")
        reply = await c.join(topic, join_config(changes=[binding(event="INSERT"), bad]))
        assert reply["status"] == "ok", reply
        good, failed = [b["id"] for b in reply["response"]["postgres_changes"]]
        assert good != failed
        statuses = {}
        for _ in range(2):
            p = (await c.expect_event(topic, "system", timeout=20))["payload"]
            statuses[p["status"]] = p["message"]
        assert message in statuses["error"], statuses
        assert statuses["ok"] == "Subscribed to PostgreSQL"
        assert node_rows(todos, pg_relay) == 1
        todos.execute("INSERT INTO todos (user_id, title) VALUES (1, 'after')")
        assert (await change(c, topic))["ids"] == [good]
        await c.close()
    run(body())


def test_leave_and_disconnect_remove_rows(todos, pg_relay, vsn):
    db = todos

    async def body():
        leaver = await PhoenixClient.open(pg_relay, vsn)
        dropper = await PhoenixClient.open(pg_relay, vsn)
        tl, ids_l = await subscribe(leaver, [binding(), binding(table="other")])
        td, ids_d = await subscribe(dropper, [binding(event="INSERT")])
        assert node_rows(db, pg_relay) == 3

        await leaver.leave(tl)
        wait_until(lambda: node_rows(db, pg_relay) == 1, timeout=10, what="the leaver's rows to go")
        assert db.scalar("SELECT id FROM realtime.subscription") == ids_d[0]

        # A closed socket's rows are parked for --resume-window (tests/relay/test_resume.py), not removed.
        await dropper.ws.close()
        wait_until(lambda: pg_relay.metrics().get("realtime_resume_parked") == 1, timeout=10,
                   what="the closed socket's row to be parked")
        assert node_rows(db, pg_relay) == 1

        # A second join of a topic replaces its bindings too.
        c = await PhoenixClient.open(pg_relay, vsn)
        topic, [first] = await subscribe(c, [binding()])
        topic, [second] = await subscribe(c, [binding(table="other")], topic=topic)
        wait_until(lambda: db.execute("SELECT array_agg(id) FROM realtime.subscription WHERE id <> %s",
                                      (ids_d[0],))[0][0] == [second],
                   timeout=10, what="the replaced join's row to go")
        await leaver.close()
        await c.close()
    run(body())


def test_sql_broadcast(todos, pg_relay, vsn):
    db = todos

    async def body():
        c = await PhoenixClient.open(pg_relay, vsn)
        other = await PhoenixClient.open(pg_relay, vsn)
        await c.join("realtime:room1")
        await other.join("realtime:room2")
        db.execute("SELECT realtime.broadcast('room1', 'sql-event', '{\"a\": 1}')")
        msg = await c.expect_event("realtime:room1", "broadcast")
        p = msg["payload"]
        assert (p["type"], p["event"], p["payload"]) == ("broadcast", "sql-event", {"a": 1})
        assert isinstance(p["meta"]["id"], str) and len(p["meta"]["id"]) == 36

        db.execute("SELECT realtime.send('{\"b\": 2}', 'sent', 'room1', false)")
        msg = await c.expect_event("realtime:room1", "broadcast")
        # As Supabase's send, the message id is added to the payload.
        assert (msg["payload"]["event"], msg["payload"]["payload"]) == (
            "sent", {"b": 2, "id": msg["payload"]["meta"]["id"]})

        # Rolled back: never delivered. Private (realtime.send's default): not for a
        # public channel. The committed marker after them shows nothing else is coming.
        conn = db.connect(autocommit=False)
        with conn.cursor() as cur:
            cur.execute("SELECT realtime.broadcast('room1', 'rolled-back', '{}')")
        conn.rollback()
        conn.close()
        db.execute("SELECT realtime.send('{}', 'private-one', 'room1')")
        db.execute("SELECT realtime.broadcast('room1', 'marker', '{}')")
        msg = await c.expect_event("realtime:room1", "broadcast")
        assert msg["payload"]["event"] == "marker", msg
        # A broadcast in a transaction with a row change arrives once it commits.
        db.execute("BEGIN; INSERT INTO other (note) VALUES ('x'); "
                   "SELECT realtime.broadcast('room2', 'with-row', '{}'); COMMIT")
        msg = await other.expect_event("realtime:room2", "broadcast")
        assert msg["payload"]["event"] == "with-row"
        await c.assert_silent(0.3, lambda m: m["event"] == "broadcast")
        for x in (c, other):
            await x.close()
    run(body())


def test_rls_table_rows_reach_the_roles_its_policies_let_read(todos, pg_relay, vsn):
    """The relay side of row level security (column views, checks, system errors) is
    its own work; policies the plugin compiles already reach clients as plain targets."""
    db = todos
    db.execute("ALTER TABLE todos ENABLE ROW LEVEL SECURITY")
    db.execute("CREATE POLICY own ON todos FOR SELECT USING (user_id = 1)")

    async def body():
        clients = {}
        for role in ("anon", "authenticated", "service_role"):
            c = await PhoenixClient.open(pg_relay, vsn, token=pg_relay.token(role=role))
            clients[role] = (c, (await subscribe(c, [binding()]))[0])
        db.execute("INSERT INTO todos (user_id) VALUES (2)")
        db.execute("INSERT INTO todos (user_id) VALUES (1)")
        for role, (c, topic) in clients.items():
            first = (await change(c, topic))["data"]["record"]["user_id"]
            # service_role bypasses row level security: it sees both rows, in order.
            assert first == (2 if role == "service_role" else 1), role
        c, topic = clients["service_role"]
        assert (await change(c, topic))["data"]["record"]["user_id"] == 1
        for c, topic in clients.values():
            await c.assert_silent(0.3, lambda m: m["event"] == "postgres_changes")
            await c.close()
    run(body())


def test_claims_travel_into_the_subscription(todos, pg_relay):
    async def body():
        token = pg_relay.token(role="authenticated", sub="user-42", email="a@example.com")
        c = await PhoenixClient.open(pg_relay, "2.0.0", token=token)
        topic, [sid] = await subscribe(c, [binding()])
        claims = todos.execute("SELECT claims, claims_role FROM realtime.subscription WHERE id = %s", (sid,))[0]
        assert claims[0]["role"] == "authenticated" and claims[0]["sub"] == "user-42"
        assert claims[0]["email"] == "a@example.com" and claims[1] == "authenticated"
        await c.close()
    run(body())


def test_join_access_token_claims_used(todos, pg_relay):
    """A join's own access_token replaces the socket's claims for its subscriptions."""
    async def body():
        c = await PhoenixClient.open(pg_relay, "2.0.0", token=pg_relay.token(role="anon"))
        topic = unique_topic("db")
        own = pg_relay.token(role="authenticated", sub="joiner")
        reply = await c.join(topic, join_config(changes=[binding()]), access_token=own)
        assert reply["status"] == "ok"
        sid = reply["response"]["postgres_changes"][0]["id"]
        assert todos.scalar("SELECT claims->>'sub' FROM realtime.subscription WHERE id = %s", (sid,)) == "joiner"
        await c.close()
    run(body())


def test_without_database_bindings_are_system_errors(relay, vsn):
    """Without --db the join is OK (broadcast and presence work) and each binding gets a
    system error saying why."""
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        reply = await c.join(topic, join_config(self=True, changes=[binding()]))
        assert reply["status"] == "ok", reply
        p = (await c.expect_event(topic, "system"))["payload"]
        assert (p["extension"], p["status"]) == ("postgres_changes", "error") and "--db" in p["message"], p
        await c.broadcast(topic, "still", {})
        await c.expect_event(topic, "broadcast")
        await c.close()
    run(body())


def test_many_changes_in_order(todos, pg_relay):
    db = todos

    async def body():
        c = await PhoenixClient.open(pg_relay, "2.0.0")
        topic, _ = await subscribe(c, [binding(event="INSERT")])
        db.execute("INSERT INTO todos (user_id) SELECT g FROM generate_series(1, 500) g")
        got = []
        while len(got) < 500:
            got.append((await change(c, topic))["data"]["record"]["user_id"])
        assert got == list(range(1, 501))
        await c.close()
    run(body())
