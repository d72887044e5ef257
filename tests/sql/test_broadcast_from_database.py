"""Broadcast from the database: realtime.send, send_binary, broadcast_changes (the docs'
trigger), realtime.broadcast and a plain INSERT store a row of realtime.messages in the
caller's transaction, and the plugin, which decodes that table's inserts, emits one
BROADCAST document for it once that commits. Nothing else broadcasts: a logical message
any role can emit does not."""
import base64
import json

import psycopg2
import pytest

from .helpers import ALICE, BOB, as_user, broadcasts, user

# The trigger of Supabase's "Broadcast from the database" documentation.
DOCS_TRIGGER = """
CREATE TABLE public.todos (id int PRIMARY KEY, topic text, title text);
GRANT SELECT, INSERT, UPDATE, DELETE ON public.todos TO authenticated;
CREATE OR REPLACE FUNCTION public.your_table_changes()
RETURNS trigger
SECURITY DEFINER
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM realtime.broadcast_changes(
        'topic:' || coalesce(NEW.topic, OLD.topic)::text,
        TG_OP,
        TG_OP,
        TG_TABLE_NAME,
        TG_TABLE_SCHEMA,
        NEW,
        OLD
    );
    RETURN NULL;
END;
$$;
CREATE TRIGGER handle_todos_changes
AFTER INSERT OR UPDATE OR DELETE ON public.todos
FOR EACH ROW EXECUTE FUNCTION your_table_changes();
"""

DOC_KEYS = ["type", "topic", "event", "payload", "private", "id", "commit_timestamp", "commit_lsn",
            "change_index"]


def stored(db):
    """The rows of realtime.messages as dicts, oldest first."""
    rows = db.execute("""SELECT id::text, topic, extension, event, payload, private,
                                encode(binary_payload, 'hex') FROM realtime.messages ORDER BY inserted_at""")
    keys = ["id", "topic", "extension", "event", "payload", "private", "binary_hex"]
    return [dict(zip(keys, r)) for r in rows]


def test_docs_trigger_delivers_one_broadcast_per_change(app_db, slot):
    app_db.execute(DOCS_TRIGGER)
    app_db.execute("INSERT INTO todos VALUES (1, 'a', 'milk')")
    app_db.execute("UPDATE todos SET title = 'bread' WHERE id = 1")
    app_db.execute("DELETE FROM todos WHERE id = 1")
    docs = broadcasts(slot.get())
    assert [(d["event"], d["topic"], d["private"]) for d in docs] == [
        ("INSERT", "topic:a", True), ("UPDATE", "topic:a", True), ("DELETE", "topic:a", True)]
    assert all(list(d) == DOC_KEYS for d in docs)
    insert, update, delete = (d["payload"] for d in docs)
    row1 = {"id": 1, "topic": "a", "title": "milk"}
    row2 = {"id": 1, "topic": "a", "title": "bread"}
    assert insert == {"id": docs[0]["id"], "operation": "INSERT", "table": "todos", "schema": "public",
                      "record": row1, "old_record": None}
    assert update == {"id": docs[1]["id"], "operation": "UPDATE", "table": "todos", "schema": "public",
                      "record": row2, "old_record": row1}
    assert delete == {"id": docs[2]["id"], "operation": "DELETE", "table": "todos", "schema": "public",
                      "record": None, "old_record": row2}
    assert [r["id"] for r in stored(app_db)] == [d["id"] for d in docs]


def test_docs_trigger_delivers_only_after_commit_and_never_after_rollback(app_db, slot):
    app_db.execute(DOCS_TRIGGER)
    conn = app_db.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO todos VALUES (1, 'a', 'milk')")
            assert broadcasts(slot.peek()) == []  # stored, not delivered: not committed yet
            conn.commit()
            assert [d["event"] for d in broadcasts(slot.get())] == ["INSERT"]
            cur.execute("INSERT INTO todos VALUES (2, 'a', 'eggs')")
            cur.execute("UPDATE todos SET title = 'x'")
            conn.rollback()
    finally:
        conn.close()
    app_db.execute("INSERT INTO todos VALUES (3, 'b', 'tea')")
    docs = broadcasts(slot.get())
    assert [(d["event"], d["payload"]["record"]["id"]) for d in docs] == [("INSERT", 3)]
    assert [r["payload"]["record"]["id"] for r in stored(app_db)] == [1, 3]


def test_docs_trigger_works_for_a_users_insert(app_db, slot):
    """The row changes of users with RLS on realtime.messages and no policy at all still
    succeed and are broadcast: the docs' trigger function is SECURITY DEFINER."""
    app_db.execute(DOCS_TRIGGER)
    as_user(app_db, user(ALICE), "INSERT INTO todos VALUES (1, 'a', 'milk')")
    assert [d["payload"]["record"]["title"] for d in broadcasts(slot.get())] == ["milk"]


def test_broadcast_changes_refuses_statement_triggers_and_unknown_operations(app_db):
    app_db.execute("""CREATE TABLE t (id int);
        CREATE FUNCTION t_changes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM realtime.broadcast_changes('t', TG_OP, TG_OP, TG_TABLE_NAME, TG_TABLE_SCHEMA,
                                               NULL::t, NULL::t, TG_LEVEL);
            RETURN NULL;
        END $$;
        CREATE TRIGGER t_stmt AFTER INSERT ON t FOR EACH STATEMENT EXECUTE FUNCTION t_changes()""")
    with pytest.raises(psycopg2.Error) as err:
        app_db.execute("INSERT INTO t VALUES (1)")
    assert err.value.diag.message_primary == (
        "Failed to process the row: function can only be triggered for each row, not for each statement")
    with pytest.raises(psycopg2.Error) as err:
        app_db.execute("SELECT realtime.broadcast_changes('t', 'e', 'TRUNCATE', 't', 'public', NULL::t, NULL::t)")
    assert err.value.diag.message_primary == "Failed to process the row: Unexpected operation type: TRUNCATE"


def test_send_stores_and_delivers_with_matching_ids(app_db, slot):
    app_db.execute("SELECT realtime.send('{\"text\": \"hi\"}', 'shout', 'room1')")
    app_db.execute("SELECT realtime.send('{\"id\": \"mine\", \"n\": 1}', 'shout', 'room1', false)")
    first, second = broadcasts(slot.get())
    (row1, row2) = stored(app_db)
    assert list(first) == DOC_KEYS
    assert (first["topic"], first["event"], first["private"]) == ("room1", "shout", True)
    assert first["payload"] == {"text": "hi", "id": first["id"]} == row1["payload"]
    assert first["id"] == row1["id"] and row1["extension"] == "broadcast" and row1["private"] is True
    # A payload with its own id keeps it; the message id is still the row's.
    assert second["payload"] == {"id": "mine", "n": 1} == row2["payload"]
    assert second["id"] == row2["id"] != "mine" and second["private"] is False


def test_send_failures_are_warnings_and_send_nothing(app_db, slot):
    conn = app_db.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT realtime.send('[1, 2]', 'e', 'room1')")
            cur.execute("SELECT realtime.send('{}', 'e', NULL)")
            cur.execute("SELECT realtime.send('{\"ok\": true}', 'e', 'room1')")
        conn.commit()
        warnings = [n.strip() for n in conn.notices]
    finally:
        conn.close()
    assert warnings[0].startswith("WARNING:  WarnSendingBroadcastMessage: path element at position 1")
    assert warnings[1].startswith('WARNING:  WarnSendingBroadcastMessage: null value in column "topic"')
    assert [d["payload"].get("ok") for d in broadcasts(slot.get())] == [True]
    assert len(stored(app_db)) == 1


def test_send_as_a_user_is_checked_by_insert_policies_with_its_topic(app_db, slot):
    """send inserts as the calling role, with realtime.topic() set to the topic."""
    notices = as_user(app_db, user(ALICE), f"SELECT realtime.send('{{}}', 'e', 'room:{ALICE}')")
    assert "WarnSendingBroadcastMessage: new row violates row-level security policy" in notices[0]
    app_db.execute("""CREATE POLICY "send to own room" ON realtime.messages FOR INSERT TO authenticated
                      WITH CHECK (realtime.topic() = 'room:' || (SELECT auth.uid())::text)""")
    assert as_user(app_db, user(ALICE), f"SELECT realtime.send('{{}}', 'mine', 'room:{ALICE}')") == []
    notices = as_user(app_db, user(ALICE), f"SELECT realtime.send('{{}}', 'theirs', 'room:{BOB}')")
    assert "row-level security" in notices[0]
    assert [(d["event"], d["topic"]) for d in broadcasts(slot.get())] == [("mine", f"room:{ALICE}")]


def test_a_rolled_back_subtransaction_sends_nothing(app_db, slot):
    app_db.execute("""BEGIN;
        SAVEPOINT s; SELECT realtime.send('{}', 'undone', 'room1'); ROLLBACK TO SAVEPOINT s;
        SELECT realtime.send('{}', 'kept', 'room1');
        COMMIT""")
    assert [d["event"] for d in broadcasts(slot.get())] == ["kept"]


def test_send_binary(app_db, slot):
    data = bytes([0, 1, 2, 255]) * 40  # long enough for base64 to wrap lines
    app_db.execute("SELECT realtime.send_binary(%s, 'blob', 'room1')", (psycopg2.Binary(data),))
    (doc,) = broadcasts(slot.get())
    assert list(doc) == ["type", "topic", "event", "binary_payload", "private", "id", "commit_timestamp",
                         "commit_lsn", "change_index"]
    assert base64.b64decode(doc["binary_payload"]) == data and doc["private"] is True
    (row,) = stored(app_db)
    assert row["id"] == doc["id"] and row["payload"] is None and bytes.fromhex(row["binary_hex"]) == data


def test_every_inserted_broadcast_row_is_delivered_and_nothing_else(app_db, slot):
    """As in Supabase, a plain INSERT into realtime.messages broadcasts too; rows without
    an event or payload (authorization probes) and presence rows do not."""
    app_db.execute("""INSERT INTO realtime.messages (topic, extension, event, payload, private) VALUES
        ('room1', 'broadcast', 'direct', '{"a": 1}', true),
        ('room1', 'broadcast', NULL, NULL, false),
        ('room1', 'broadcast', 'no payload', NULL, true),
        ('room1', 'presence', 'p', '{}', true),
        ('room1', 'broadcast', 'no private', '{}', NULL)""")
    docs = broadcasts(slot.get())
    assert [(d["event"], d["payload"]) for d in docs] == [("direct", {"a": 1})]


def test_realtime_broadcast_is_public_by_default_and_raises(app_db, slot):
    app_db.execute("SELECT realtime.broadcast('room1', 'e', '{\"x\": [1]}')")
    app_db.execute("SELECT realtime.broadcast('room1', 'p', NULL, true)")
    first, second = broadcasts(slot.get())
    assert (first["payload"], first["private"]) == ({"x": [1]}, False)
    assert (second["payload"], second["private"]) == ({}, True)
    assert [r["id"] for r in stored(app_db)] == [first["id"], second["id"]]
    for args in (("", "e"), ("room1", None)):
        with pytest.raises(psycopg2.errors.InvalidParameterValue):
            app_db.execute("SELECT realtime.broadcast(%s, %s, '{}')", args)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_user(app_db, user(ALICE), "SELECT realtime.broadcast('room1', 'e', '{}')")


def test_delivery_keeps_commit_order_with_row_changes(app_db, slot):
    app_db.execute("CREATE TABLE t (id int)")
    app_db.execute("SELECT realtime.subscribe('n', 't')")
    app_db.execute("""BEGIN;
        INSERT INTO t VALUES (1);
        SELECT realtime.send('{}', 'between', 'room');
        INSERT INTO t VALUES (2);
        COMMIT""")
    docs = [d for d in slot.get() if d["type"] != "SUBSCRIBED"]
    assert [(d["type"], d.get("record", {}).get("id")) for d in docs] == [
        ("INSERT", 1), ("BROADCAST", None), ("INSERT", 2)]
    assert len({d["commit_lsn"] for d in docs}) == 1
    assert docs[0]["change_index"] < docs[1]["change_index"] < docs[2]["change_index"]


def test_payload_of_any_size_and_json_survives(app_db, slot):
    payload = {"text": "é\"\\\n" * 1000, "nested": {"list": [1, 2.5, None, True]}}
    app_db.execute("SELECT realtime.send(%s::jsonb, 'big', 'room1')", (json.dumps(payload),))
    (doc,) = broadcasts(slot.get())
    assert doc["payload"] == {**payload, "id": doc["id"]}


# Each way of broadcasting from SQL, as a statement that sends one message to room1.
SENDERS = {
    "send": "SELECT realtime.send('{\"k\": 1}', 'e', 'room1')",
    "send_binary": "SELECT realtime.send_binary('\\x01'::bytea, 'e', 'room1')",
    "broadcast": "SELECT realtime.broadcast('room1', 'e', '{\"k\": 1}')",
    "broadcast_changes": "INSERT INTO todos VALUES (1, 'room1', 'milk')",
    "insert": """INSERT INTO realtime.messages (topic, extension, event, payload, private)
                 VALUES ('room1', 'broadcast', 'e', '{"k": 1}', false)""",
}


@pytest.mark.parametrize("way", SENDERS)
def test_each_way_delivers_once_after_commit_and_never_when_rolled_back(app_db, slot, way):
    app_db.execute(DOCS_TRIGGER.replace("'topic:' || ", ""))
    conn = app_db.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute(SENDERS[way])
            conn.rollback()
            cur.execute("SAVEPOINT s")
            cur.execute(SENDERS[way])
            cur.execute("ROLLBACK TO SAVEPOINT s")
            cur.execute(SENDERS[way])
            assert broadcasts(slot.peek()) == []  # stored, not delivered: not committed yet
            conn.commit()
    finally:
        conn.close()
    (doc,) = broadcasts(slot.get())
    (row,) = stored(app_db)
    assert (doc["topic"], doc["id"]) == ("room1", row["id"])
    assert ("binary_payload" in doc) == (way == "send_binary")
    assert broadcasts(slot.get()) == []


def test_a_plain_insert_allowed_by_a_policy_is_delivered(app_db, slot):
    insert = """INSERT INTO realtime.messages (topic, extension, event, payload, private)
                VALUES (%s, 'broadcast', %s, '{}', true)"""
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):  # RLS, no policy yet
        as_user(app_db, user(ALICE), insert, (f"room:{ALICE}", "before the policy"))
    app_db.execute("""CREATE POLICY "insert into own room" ON realtime.messages FOR INSERT TO authenticated
                      WITH CHECK (topic = 'room:' || (SELECT auth.uid())::text)""")
    as_user(app_db, user(ALICE), insert, (f"room:{ALICE}", "allowed"))
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_user(app_db, user(ALICE), insert, (f"room:{BOB}", "refused"))
    assert [(d["event"], d["topic"], d["private"]) for d in broadcasts(slot.get())] == [
        ("allowed", f"room:{ALICE}", True)]


def test_a_forged_logical_message_is_not_delivered(app_db, slot):
    """pg_logical_emit_message is executable by every role; a message with the prefix
    broadcasts once used is not a broadcast (the policies on realtime.messages decide)."""
    forged = """SELECT pg_logical_emit_message(true, 'realtime.broadcast',
                '{"topic": "room1", "event": "forged", "payload": {}, "private": true, "id": "x"}')"""
    as_user(app_db, user(ALICE), forged)
    app_db.execute(forged)
    app_db.execute("SELECT realtime.send('{}', 'sent', 'room1')")
    assert [d["event"] for d in broadcasts(slot.get())] == ["sent"]
