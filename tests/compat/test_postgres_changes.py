"""Postgres Changes as a client sees them on Supabase (test/integration/rt_channel/
postgres_changes_test.exs, realtime_channel_test.exs "postgres changes"; the payload is
built by realtime.apply_rls, lib/realtime/tenants/repo/migrations/
20260709120000_fix_apply_rls_filter_role_leak.ex): the join reply echoes each binding
with an id, "Subscribed to PostgreSQL" follows, each push carries the matching binding's
id and the change in Supabase's shape; a binding Supabase cannot subscribe is answered
with an OK join and a `system` error for it, and the channel keeps working."""
import re

import pytest

from support.phoenix import PhoenixClient, join_config, run, unique_topic

from .helpers import binding, open_joined, postgres_change, sub_topic, subscribed, system_message

COLUMNS = [{"name": "id", "type": "int4"}, {"name": "details", "type": "text"},
           {"name": "binary_data", "type": "bytea"}]
COMMIT_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # to_char(... 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')


def check_change(push, sid, kind, record=None, old_record=None, columns=COLUMNS):
    assert push["ids"] == [sid], push
    data = push["data"]
    assert set(data) == {"schema", "table", "commit_timestamp", "type", "columns", "errors"} | (
        {"record"} if record is not None else set()) | ({"old_record"} if old_record is not None else set()), data
    assert (data["schema"], data["table"], data["type"], data["errors"]) == ("public", "test", kind, None)
    assert data["columns"] == columns
    assert COMMIT_TS.match(data["commit_timestamp"]), data["commit_timestamp"]
    if record is not None:
        assert data["record"] == record
    if old_record is not None:
        assert data["old_record"] == old_record


@pytest.mark.parametrize("event", ["INSERT", "UPDATE", "DELETE", "*"])
def test_change_shapes(cdc, vsn, event):
    """postgres_changes_test "handle insert", "handle update", "handle delete", "handle
    wildcard"; realtime_channel_test "subscribes to inserts" (a NULL column is present as
    null)."""
    db, relay = cdc

    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        b = binding(event)
        reply = await c.join(topic, join_config(changes=[b]))
        assert reply["status"] == "ok"
        [echo] = reply["response"]["postgres_changes"]
        sid = echo.pop("id")
        assert isinstance(sid, int) and echo == b
        await system_message(c, topic, timeout=20)
        rid = db.scalar("INSERT INTO test (details) VALUES ('test') RETURNING id")
        db.execute("UPDATE test SET details = 'test' WHERE id = %s", (rid,))
        db.execute("DELETE FROM test WHERE id = %s", (rid,))
        full = {"id": rid, "details": "test", "binary_data": None}
        if event in ("INSERT", "*"):
            check_change(await postgres_change(c, topic), sid, "INSERT", record=full)
        if event in ("UPDATE", "*"):
            check_change(await postgres_change(c, topic), sid, "UPDATE", record=full, old_record={"id": rid})
        if event in ("DELETE", "*"):
            check_change(await postgres_change(c, topic), sid, "DELETE", old_record={"id": rid})
        await c.assert_silent(0.5, lambda m: m["event"] == "postgres_changes")
    run(body())


def test_table_without_primary_key_is_delivered(cdc, vsn):
    """apply_rls answers INSERT and UPDATE of a table without a primary key with errors
    ["Error 400: Bad Request, no primary key"] and no record (it needs the key for its RLS
    check); we check access without it and deliver the change (docs/compatibility.md)."""
    db, relay = cdc
    db.execute("CREATE TABLE public.nopk (a int, b text); GRANT SELECT ON public.nopk TO anon")

    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        await subscribed(c, topic, [binding("INSERT", table="nopk")])
        db.execute("INSERT INTO nopk VALUES (1, 'x')")
        data = (await postgres_change(c, topic))["data"]
        assert (data["record"], data["errors"]) == ({"a": 1, "b": "x"}, None)
    run(body())


def test_pushes_carry_only_the_matching_bindings_id(cdc, vsn):
    """realtime_channel_test "multiple subscriptions": INSERT and DELETE bindings on one
    channel; the UPDATE between them reaches neither, each push names its own binding."""
    db, relay = cdc

    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        ins, dele = await subscribed(c, topic, [binding("INSERT"), binding("DELETE")])
        rid = db.scalar("INSERT INTO test (details) VALUES ('test') RETURNING id")
        db.execute("UPDATE test SET details = 'test' WHERE id = %s", (rid,))
        db.execute("DELETE FROM test WHERE id = %s", (rid,))
        assert (await postgres_change(c, topic))["ids"] == [ins]
        p = await postgres_change(c, topic)
        assert p["ids"] == [dele] and p["data"]["type"] == "DELETE"
        await c.assert_silent(0.5, lambda m: m["event"] == "postgres_changes")
    run(body())


def test_bytea_is_hex_without_prefix(cdc, vsn):
    """postgres_changes_test "handle insert with bytea data without double-encoding": the
    value is wal2json's hex, "0102030405" (realtime.cast passes bytea through)."""
    db, relay = cdc

    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        await subscribed(c, topic, [binding("INSERT")])
        db.execute("INSERT INTO test (details, binary_data) VALUES ('test', '\\x0102030405'::bytea)")
        assert (await postgres_change(c, topic))["data"]["record"]["binary_data"] == "0102030405"
    run(body())


BAD_BINDINGS = {
    # case: (binding, message prefix, a text the message must contain)
    "malformed-filter": (binding(filter="wrong"), 'Error parsing `filter` params: ["wrong"]', "wrong"),
    "unknown-operator": (binding(filter="details=foo.hey"), 'Error parsing `filter` params: ["foo", "hey"]', "foo"),
    "in-without-parens": (binding(filter="details=in.a,b"), "Error parsing `filter` params: ", "in"),
    "unknown-table": (binding(table="doesnotexist"),
                      "Unable to subscribe to changes with given parameters. Please check Realtime is enabled "
                      "for the given connect parameters: [", "doesnotexist"),
    "unknown-column": (binding(filter="notacolumn=eq.123"),
                       "Unable to subscribe to changes with given parameters. An exception happened so please "
                       "check your connect parameters: [", "notacolumn"),
    "bad-value": (binding(filter="id=eq.abc"),
                  "Unable to subscribe to changes with given parameters. An exception happened so please "
                  "check your connect parameters: [", "abc"),
}


@pytest.mark.parametrize("case", list(BAD_BINDINGS))
def test_bad_binding_is_an_ok_join_and_a_system_error(cdc, vsn, case):
    """realtime_channel_test "malformed subscription params", "invalid subscription table
    does not exist", "invalid subscription column does not exist": the join is OK and
    echoes the binding, a `system` error names the problem, no "Subscribed to
    PostgreSQL" follows, and the channel's broadcast still works."""
    db, relay = cdc
    bad, prefix, contains = BAD_BINDINGS[case]

    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        reply = await c.join(topic, join_config(self=True, changes=[bad]))
        assert reply["status"] == "ok", reply
        [echo] = reply["response"]["postgres_changes"]
        assert {k: v for k, v in echo.items() if k != "id"} == bad
        payload = await system_message(c, topic, timeout=20)
        assert (payload["extension"], payload["status"], payload["channel"]) == (
            "postgres_changes", "error", sub_topic(topic)), payload
        assert payload["message"].startswith(prefix) and contains in payload["message"], payload["message"]
        await c.broadcast(topic, "still", {})
        assert (await c.expect_event(topic, "broadcast"))["payload"]["event"] == "still"
        await c.assert_silent(1, lambda m: m["event"] == "system")
    run(body())


def test_good_bindings_beside_a_bad_one_keep_working(cdc, vsn):
    """A channel with a good binding and one on a missing table: the system error is for
    the bad one, the good one is subscribed and delivers (Supabase subscribes a channel's
    bindings in one transaction and so none of them: we do better, docs/compatibility.md)."""
    db, relay = cdc

    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        reply = await c.join(topic, join_config(changes=[binding("INSERT"), binding(table="doesnotexist")]))
        assert reply["status"] == "ok", reply
        good, _ = [b["id"] for b in reply["response"]["postgres_changes"]]
        errors, oks = [], []
        for _ in range(2):
            p = await system_message(c, topic, timeout=20)
            (oks if p["status"] == "ok" else errors).append(p)
        assert len(errors) == 1 and "doesnotexist" in errors[0]["message"], errors
        assert oks[0]["message"] == "Subscribed to PostgreSQL", oks
        rid = db.scalar("INSERT INTO test (details) VALUES ('x') RETURNING id")
        p = await postgres_change(c, topic)
        assert p["ids"] == [good] and p["data"]["record"]["id"] == rid
    run(body())


def test_schema_wide_binding(cdc, vsn):
    """postgres_changes_test "handle insert" binds {event: INSERT, schema: public} with no
    table: every table of the schema (Supabase: of the publication) is covered."""
    db, relay = cdc
    # Supabase's test database publishes every table; here the schema's tables are added.
    db.execute("ALTER PUBLICATION supabase_realtime ADD TABLES IN SCHEMA public; "
               "CREATE TABLE public.other (id int PRIMARY KEY); GRANT SELECT ON public.other TO anon")

    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        b = {"event": "INSERT", "schema": "public"}
        reply = await c.join(topic, join_config(changes=[b]))
        assert reply["status"] == "ok", reply
        [echo] = reply["response"]["postgres_changes"]
        sid = echo.pop("id")
        assert echo == b
        await system_message(c, topic, timeout=20)
        db.execute("INSERT INTO test (details) VALUES ('a')")
        db.execute("INSERT INTO other VALUES (7)")
        tables = []
        for _ in range(2):
            p = await postgres_change(c, topic)
            assert p["ids"] == [sid]
            tables.append(p["data"]["table"])
        assert tables == ["test", "other"]
    run(body())


def test_select_limits_columns_to_the_chosen_and_the_key(cdc, vsn):
    """postgres_changes_test "select column filtering": select: ["details"] sends id (the
    primary key, always) and details, in record, old_record and columns, for INSERT,
    UPDATE and DELETE; with a filter only matching rows come; a binding without select
    gets every column."""
    db, relay = cdc
    db.execute("ALTER TABLE test REPLICA IDENTITY FULL")

    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        sel, flt, full = await subscribed(c, topic, [
            binding("*", select=["details"]), binding("INSERT", filter="details=eq.match", select=["details"]),
            binding("INSERT")])
        rid = db.scalar("INSERT INTO test (details, binary_data) VALUES ('match', '\\x01') RETURNING id")
        db.execute("UPDATE test SET details = 'after' WHERE id = %s", (rid,))
        db.execute("DELETE FROM test WHERE id = %s", (rid,))
        narrow = [{"name": "id", "type": "int4"}, {"name": "details", "type": "text"}]
        got = {}
        wanted = {(sel, "INSERT"), (flt, "INSERT"), (full, "INSERT"), (sel, "UPDATE"), (sel, "DELETE")}
        while not wanted <= set(got):  # bindings with the same columns may share a push
            p = await postgres_change(c, topic)
            for i in p["ids"]:
                got[(i, p["data"]["type"])] = p["data"]
        assert set(got) == wanted
        assert got[(full, "INSERT")]["record"] == {"id": rid, "details": "match", "binary_data": "01"}
        assert got[(full, "INSERT")]["columns"] == COLUMNS
        for key in ((sel, "INSERT"), (flt, "INSERT")):
            assert got[key]["record"] == {"id": rid, "details": "match"}
            assert got[key]["columns"] == narrow
        assert got[(sel, "UPDATE")]["record"] == {"id": rid, "details": "after"}
        assert got[(sel, "UPDATE")]["old_record"] == {"id": rid, "details": "match"}
        assert got[(sel, "DELETE")]["old_record"] == {"id": rid, "details": "after"}
    run(body())


def test_select_that_is_not_a_list_is_an_error(cdc, vsn):
    """subscriptions.ex parse_select/1: a string select is refused with its own message."""
    db, relay = cdc

    async def body():
        c, topic = await open_joined(relay, vsn, join_config(changes=[binding(select="details")]))
        payload = await system_message(c, topic, timeout=20)
        assert payload["status"] == "error"
        assert payload["message"].startswith("Error parsing `select` params: expected a list of column name strings")
    run(body())
