"""Broadcast messages, and the plugin's options."""
import json

import psycopg2
import pytest

from .helpers import opts, rows, subscribe


def emit(db, **content):
    """A broadcast message as the extension's trigger on realtime.messages emits it (the
    SQL functions that store and send messages are tested in tests/sql)."""
    db.execute("SELECT pg_logical_emit_message(true, 'realtime.broadcast', %s)", (json.dumps(content),))


def test_broadcast_committed_is_emitted(db, slot):
    emit(db, topic="room1", event="shout", payload={"text": "hi", "n": [1]}, private=False, id="id-1")
    emit(db, topic="room2", event="ev", binary_payload="AAE=", private=True, id="id-2")
    first, second = slot.get()
    assert list(first) == ["type", "topic", "event", "payload", "private", "id",
                           "commit_timestamp", "commit_lsn", "change_index"]
    assert first["type"] == "BROADCAST" and first["topic"] == "room1"
    assert first["event"] == "shout" and first["payload"] == {"text": "hi", "n": [1]}
    assert first["private"] is False and first["id"] == "id-1"
    assert first["change_index"] == 0
    assert (second["topic"], second["event"], second["binary_payload"], second["private"], second["id"]) == (
        "room2", "ev", "AAE=", True, "id-2")


def test_broadcast_rolled_back_is_not_emitted(db, slot):
    conn = db.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_logical_emit_message(true, 'realtime.broadcast', '{\"event\": \"lost\"}')")
        conn.rollback()
    finally:
        conn.close()
    emit(db, event="kept")
    assert [d["event"] for d in slot.get()] == ["kept"]


def test_broadcast_in_order_with_changes(db, slot):
    db.execute("CREATE TABLE t (id int)")
    subscribe(db, "n", "t")
    db.execute("""BEGIN;
        INSERT INTO t VALUES (1);
        SELECT pg_logical_emit_message(true, 'realtime.broadcast', '{"event": "between"}');
        INSERT INTO t VALUES (2);
        COMMIT""")
    assert [(d["type"], d["change_index"]) for d in slot.get()] == [
        ("INSERT", 0), ("BROADCAST", 1), ("INSERT", 2)]


def test_other_messages_are_ignored_and_bad_broadcasts_skipped(db, slot):
    db.execute("SELECT pg_logical_emit_message(true, 'other.prefix', '{\"topic\": \"x\"}')")
    db.execute("SELECT pg_logical_emit_message(false, 'realtime.broadcast', '{\"topic\": \"x\"}')")
    db.execute("SELECT pg_logical_emit_message(true, 'realtime.broadcast', 'not json')")
    db.execute("SELECT pg_logical_emit_message(true, 'realtime.broadcast', '[1, 2]')")
    db.execute("SELECT pg_logical_emit_message(true, 'realtime.broadcast', ' {} ')")
    raw = [data for _, data in slot.get_raw()]
    assert [json.loads(r) for r in raw][0]["type"] == "BROADCAST"
    assert len(raw) == 1 and raw[0].startswith('{"type":"BROADCAST","commit_timestamp"')


def test_unknown_option_is_an_error(db, slot):
    with pytest.raises(psycopg2.Error) as err:
        slot.get(**{"include-unmached": "true"})
    assert 'unknown option "include-unmached"' in str(err.value)
    assert "include-unmatched" in err.value.diag.message_hint


@pytest.mark.parametrize("name,value", [("include-unmatched", "maybe"),
                                        ("subscription-events", "2"),
                                        ("max-record-bytes", "0"),
                                        ("max-record-bytes", "1MB")])
def test_bad_option_values_are_errors(db, slot, name, value):
    with pytest.raises(psycopg2.Error) as err:
        slot.get(**{name: value})
    assert f'option "{name}"' in str(err.value)


def test_include_unmatched(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    db.execute("CREATE TABLE quiet (id int)")
    sub = subscribe(db, "n", "t", "k=eq.1")
    db.execute("INSERT INTO t VALUES (1, 1), (2, 2)")
    db.execute("INSERT INTO quiet VALUES (1)")
    assert [d["record"]["id"] for d in rows(slot.peek())] == [1]
    everything = rows(slot.get(**opts(include_unmatched=True)))
    assert [(d["table"], d["record"]["id"], d["targets"]) for d in everything] == [
        ("t", 1, {"n": [sub]}), ("t", 2, {}), ("quiet", 1, {})]
