"""Broadcasts: the plugin emits the committed broadcast rows inserted into the partitions
of realtime.messages as BROADCAST documents, and nothing else of that table. (The SQL
functions that store messages, and policies, are tested in tests/sql.)"""
import base64
import json
import os

import psycopg2

from .helpers import opts, rows, subscribe

DOC_KEYS = ["type", "topic", "event", "payload", "private", "id", "commit_timestamp",
            "commit_lsn", "change_index"]
BINARY_KEYS = [k if k != "payload" else "binary_payload" for k in DOC_KEYS]


def store(db, topic="room1", event="e", payload="{}", binary=None, private=False,
          extension="broadcast", at=None):
    """Inserts one row into realtime.messages (as the superuser: no policy applies) and
    returns its id."""
    return db.scalar(
        """INSERT INTO realtime.messages (topic, extension, event, payload, binary_payload, private,
                                          inserted_at)
           VALUES (%s, %s, %s, %s::jsonb, %s, %s, coalesce(%s::timestamp, timezone('UTC', clock_timestamp())))
           RETURNING id::text""",
        (topic, extension, event, payload, psycopg2.Binary(binary) if binary is not None else None,
         private, at))


def broadcasts(docs):
    return [d for d in docs if d["type"] == "BROADCAST"]


def test_broadcast_rows_become_broadcast_documents(db, slot):
    first_id = store(db, topic="room1", event="shout", payload='{"text": "hi", "n": [1]}')
    data = bytes(range(256)) * 3
    second_id = store(db, topic="room2", event="blob", payload=None, binary=data, private=True)
    first, second = slot.get()
    assert list(first) == DOC_KEYS and list(second) == BINARY_KEYS
    assert (first["type"], first["topic"], first["event"], first["private"]) == ("BROADCAST", "room1", "shout", False)
    assert first["payload"] == {"text": "hi", "n": [1]} and first["id"] == first_id
    assert first["change_index"] == 0 and first["commit_timestamp"].endswith("Z")
    assert (second["topic"], second["event"], second["private"], second["id"]) == ("room2", "blob", True, second_id)
    assert base64.b64decode(second["binary_payload"], validate=True) == data
    assert first["commit_lsn"] != second["commit_lsn"]


def test_only_rows_supabase_would_broadcast_are_emitted(db, slot):
    """Extension broadcast, an event, a payload or binary payload, private set; the rest
    of the table (authorization probes, presence) is never emitted, not even with
    include-unmatched, and nor are updates and deletes."""
    db.execute("""INSERT INTO realtime.messages (topic, extension, event, payload, binary_payload, private) VALUES
        ('room1', 'broadcast', 'json', '{"a": 1}', NULL, true),
        ('room1', 'broadcast', NULL, NULL, NULL, false),
        ('room1', 'broadcast', 'no payload', NULL, NULL, true),
        ('room1', 'presence', 'presence', '{}', NULL, true),
        ('room1', 'broadcast', 'no private', '{}', NULL, NULL),
        ('room1', 'broadcast', NULL, '{}', NULL, true),
        ('room1', 'broadcast', 'binary', NULL, '\\x00ff', false),
        ('room1', 'broadcast', 'json null', 'null', NULL, false),
        ('room1', 'broadcast', 'array', '[1, "two"]', NULL, false)""")
    db.execute("UPDATE realtime.messages SET event = 'updated', private = true")
    db.execute("DELETE FROM realtime.messages")
    for docs in (slot.peek(), slot.peek(**opts(include_unmatched=True))):
        assert [(d["type"], d["event"]) for d in docs] == [
            ("BROADCAST", "json"), ("BROADCAST", "binary"), ("BROADCAST", "json null"), ("BROADCAST", "array")]
    json_doc, binary_doc, null_doc, array_doc = slot.get()
    assert [d["change_index"] for d in (json_doc, binary_doc, null_doc, array_doc)] == [0, 6, 7, 8]
    assert binary_doc["binary_payload"] == "AP8=" and "payload" not in binary_doc
    assert null_doc["payload"] is None and array_doc["payload"] == [1, "two"]


def test_nothing_before_commit_nor_after_a_rollback(db, slot):
    conn = db.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("INSERT INTO realtime.messages (topic, extension, event, payload) VALUES ('r', 'broadcast', 'lost', '{}')")
            assert slot.peek() == []
            conn.rollback()
            cur.execute("INSERT INTO realtime.messages (topic, extension, event, payload) VALUES ('r', 'broadcast', 'kept', '{}')")
            assert slot.peek() == []
            conn.commit()
    finally:
        conn.close()
    db.execute("""BEGIN;
        SAVEPOINT s;
        INSERT INTO realtime.messages (topic, extension, event, payload) VALUES ('r', 'broadcast', 'undone', '{}');
        ROLLBACK TO SAVEPOINT s;
        SAVEPOINT t;
        INSERT INTO realtime.messages (topic, extension, event, payload) VALUES ('r', 'broadcast', 'released', '{}');
        RELEASE SAVEPOINT t;
        COMMIT""")
    assert [d["event"] for d in slot.get()] == ["kept", "released"]


def test_broadcasts_keep_commit_order_with_row_changes(db, slot):
    db.execute("CREATE TABLE t (id int)")
    subscribe(db, "n", "t")
    db.execute("""BEGIN;
        INSERT INTO t VALUES (1);
        INSERT INTO realtime.messages (topic, extension, event, payload) VALUES ('r', 'broadcast', 'between', '{}');
        INSERT INTO t VALUES (2);
        COMMIT""")
    docs = slot.get()
    assert [(d["type"], d["change_index"]) for d in docs] == [("INSERT", 0), ("BROADCAST", 1), ("INSERT", 2)]
    assert len({(d["commit_lsn"], d["commit_timestamp"]) for d in docs}) == 1


def test_logical_messages_are_ignored(db, slot):
    """The plugin decodes no logical message: one with the old broadcast prefix, which
    any role may emit, broadcasts nothing (and, like every message, takes no change
    index)."""
    forged = json.dumps({"topic": "room1", "event": "forged", "payload": {}, "private": True, "id": "x"})
    db.execute("CREATE TABLE t (id int)")
    subscribe(db, "n", "t")
    db.execute("""BEGIN;
        SELECT pg_logical_emit_message(true, 'realtime.broadcast', %(forged)s);
        SELECT pg_logical_emit_message(false, 'realtime.broadcast', %(forged)s);
        SELECT pg_logical_emit_message(true, 'other.prefix', 'x');
        INSERT INTO t VALUES (1);
        COMMIT""", {"forged": forged})
    db.execute("SELECT pg_logical_emit_message(true, 'realtime.broadcast', %s)", (forged,))
    assert [(d["type"], d["change_index"]) for d in slot.get(**opts(include_unmatched=True))] == [("INSERT", 0)]


def test_partitions_made_later_are_recognised(db, slot):
    """The plugin knows a partition by its root, whenever and however it was made: by
    realtime.maintain_messages, by hand in another schema, below a sub-partition."""
    store(db, event="today")
    made = db.execute("SELECT partition_name FROM realtime.maintain_messages(days_ahead => 10) WHERE action = 'created'")
    later = db.scalar("SELECT timezone('UTC', now()) + interval '9 days'")
    assert (f"realtime.messages_{later:%Y_%m_%d}",) in made
    store(db, event="in 9 days", at=later)
    db.execute("""CREATE SCHEMA elsewhere;
        CREATE TABLE realtime.messages_2098 PARTITION OF realtime.messages
            FOR VALUES FROM ('2098-01-01') TO ('2099-01-01') PARTITION BY RANGE (inserted_at);
        CREATE TABLE elsewhere.leaf PARTITION OF realtime.messages_2098 DEFAULT""")
    store(db, event="deep", at="2098-06-01 12:00")
    docs = slot.get(**opts(include_unmatched=True))
    assert [(d["type"], d["event"]) for d in docs] == [
        ("BROADCAST", "today"), ("BROADCAST", "in 9 days"), ("BROADCAST", "deep")]


def test_attaching_and_detaching_a_partition_changes_what_its_rows_are(db, slot):
    """In one decoding session: the cached entry of a table follows ATTACH and DETACH."""
    db.execute("CREATE TABLE public.later (LIKE realtime.messages INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    insert = "INSERT INTO public.later (topic, extension, event, payload, inserted_at) VALUES ('r', 'broadcast', %s, '{}', '2099-01-01 12:00')"
    db.execute(insert, ("plain table",))
    db.execute("ALTER TABLE realtime.messages ATTACH PARTITION public.later FOR VALUES FROM ('2099-01-01') TO ('2099-01-02')")
    db.execute(insert, ("attached",))
    db.execute("ALTER TABLE realtime.messages DETACH PARTITION public.later")
    db.execute(insert, ("detached",))
    docs = slot.get(**opts(include_unmatched=True))
    assert [(d["type"], d.get("table"), d.get("event") or d["record"]["event"]) for d in docs] == [
        ("INSERT", "later", "plain table"), ("BROADCAST", None, "attached"), ("INSERT", "later", "detached")]


def test_a_table_whose_columns_no_longer_fit_delivers_nothing(db, slot):
    db.execute("ALTER TABLE realtime.messages ALTER COLUMN event TYPE varchar")
    store(db, event="unreadable")
    db.conn.notices.clear()
    assert slot.get(**opts(include_unmatched=True)) == []
    assert any('realtime.messages has no column "event" of type text' in n for n in db.conn.notices)


def test_large_payloads_stored_out_of_line(db, slot):
    text = os.urandom(100_000).hex()
    data = os.urandom(300_000)
    store(db, event="text", payload=json.dumps({"text": text}))
    store(db, event="bytes", payload=None, binary=data)
    stored = db.scalar("SELECT array_agg(coalesce(pg_column_size(payload), pg_column_size(binary_payload)))"
                       " FROM realtime.messages")
    assert min(stored) > 100_000  # far above the 2 kB past which values go to the TOAST table
    by_text, by_bytes = slot.get()
    assert by_text["payload"] == {"text": text}
    assert base64.b64decode(by_bytes["binary_payload"], validate=True) == data


def test_include_unmatched_never_emits_the_tables_rows(db, slot):
    store(db, event="e")
    db.execute("INSERT INTO realtime.messages (topic, extension) VALUES ('probe', 'broadcast')")
    assert rows(slot.get(**opts(include_unmatched=True))) == []
