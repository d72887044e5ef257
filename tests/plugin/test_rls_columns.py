"""Columns a subscriber receives: only those its role may SELECT (column privileges),
narrowed by the binding's select option (the primary key always goes out), and for a
DELETE of a table whose row level security applies: the old row checked against the
policies under REPLICA IDENTITY FULL, else only the primary key, as Supabase sends it."""
import random
import string

import psycopg2
import pytest

from .helpers import recipients, rows, subscribe, subscribe_as

ALL = ["id", "note", "owner", "secret"]


@pytest.fixture
def notes(app_db):
    app_db.execute("""
        CREATE TABLE notes (id int PRIMARY KEY, owner text, note text, secret text);
        GRANT SELECT ON notes TO authenticated;
        GRANT SELECT (id, owner, note) ON notes TO anon""")
    return app_db


def test_column_privileges_narrow_record_and_columns(notes, slot):
    full = subscribe_as(notes, "n", "notes", {"role": "authenticated"})
    partial = subscribe_as(notes, "n", "notes", {"role": "anon"})
    notes.execute("INSERT INTO notes VALUES (1, 'ann', 'hello', 's3cret')")
    notes.execute("UPDATE notes SET note = 'bye' WHERE id = 1")
    docs = rows(slot.get())
    for doc in docs:
        assert doc["targets"] == {"n": [full]}
        assert doc["views"] == [{"columns": ["id", "owner", "note"], "targets": {"n": [partial]}}]
        assert recipients(notes, doc) == {full: ALL, partial: ["id", "note", "owner"]}


def test_a_filter_on_an_unreadable_column_is_refused(notes):
    with pytest.raises(psycopg2.Error, match='cannot SELECT column "secret" of table notes'):
        subscribe_as(notes, "n", "notes", {"role": "anon"}, filter="secret=eq.x")


def test_select_option_sends_the_columns_named_and_the_primary_key(notes, slot):
    sub = subscribe_as(notes, "n", "notes", {"role": "authenticated"}, select=["note"])
    anon = subscribe_as(notes, "n", "notes", {"role": "anon"}, select=["note", "owner"])
    everything = subscribe(notes, "n", "notes")
    notes.execute("INSERT INTO notes VALUES (1, 'ann', 'hello', 's3cret')")
    doc = rows(slot.get())[0]
    assert recipients(notes, doc) == {sub: ["id", "note"], anon: ["id", "note", "owner"],
                                      everything: ALL}


def test_deletes_under_rls_send_the_primary_key_unless_identity_is_full(notes, slot):
    notes.execute("""
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON notes FOR SELECT USING (owner = auth.jwt() ->> 'name')""")
    ann = subscribe_as(notes, "n", "notes", {"role": "authenticated", "name": "ann"})
    bob = subscribe_as(notes, "n", "notes", {"role": "authenticated", "name": "bob"})
    owner = subscribe(notes, "n", "notes")      # the table's owner: no row level security
    notes.execute("INSERT INTO notes VALUES (1, 'ann', 'a', 's'), (2, 'ann', 'b', 's')")
    notes.execute("DELETE FROM notes WHERE id = 1")
    notes.execute("ALTER TABLE notes REPLICA IDENTITY FULL")
    notes.execute("DELETE FROM notes WHERE id = 2")
    inserts = rows(slot.get())
    deletes = [d for d in inserts if d["type"] == "DELETE"]
    # Default identity: the old row cannot be checked; everyone gets its key, only.
    assert deletes[0]["old_record"] == {"id": 1}
    assert recipients(notes, deletes[0]) == {ann: ["id"], bob: ["id"], owner: ALL}
    # FULL: the old row is checked, and sent whole to who may read it.
    assert deletes[1]["old_record"] == {"id": 2, "owner": "ann", "note": "b", "secret": "s"}
    assert recipients(notes, deletes[1]) == {ann: ALL, owner: ALL}


def test_a_check_on_a_value_the_wal_does_not_carry_delivers_nothing(notes, slot):
    """An UPDATE that leaves a TOASTed value alone does not log it (replica identity
    DEFAULT): a policy reading it cannot be evaluated, so nothing is delivered on doubt;
    one that does not read it goes on."""
    notes.execute("""
        CREATE TABLE tags (tag text); INSERT INTO tags VALUES ('ok');
        GRANT SELECT ON tags TO authenticated, anon;
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY tagged ON notes FOR SELECT TO authenticated
            USING (left(secret, 2) IN (SELECT tag FROM tags));
        CREATE POLICY owned ON notes FOR SELECT TO anon
            USING (owner IN (SELECT tag FROM tags))""")
    reader = subscribe_as(notes, "n", "notes", {"role": "authenticated"})
    anon = subscribe_as(notes, "n", "notes", {"role": "anon"})
    rng = random.Random(7)
    big = "ok" + "".join(rng.choice(string.ascii_letters) for _ in range(40000))  # stored out of line
    notes.execute("INSERT INTO notes VALUES (1, 'ok', 'n', %s)", (big,))
    notes.execute("UPDATE notes SET note = 'changed' WHERE id = 1")
    insert, update = rows(slot.get())
    assert reader in recipients(notes, insert) and anon in recipients(notes, insert)
    # The UPDATE's new row has no secret: the reader's check is not made; anon's is.
    assert "secret" not in update["record"]
    assert recipients(notes, update) == {anon: ["id", "note", "owner"]}
