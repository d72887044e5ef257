"""What old rows carry (replica identity DEFAULT and FULL), unchanged TOAST values,
and the 413 rule for large records."""
import json

from .helpers import opts, rows, subscribe, targets_of

# Incompressible text, so that the value is stored out of line (TOASTed).
BIG = "SELECT string_agg(md5(i::text), '') FROM generate_series(1, %s) i"


def test_delete_under_replica_identity_default(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, owner int, note text)")
    by_key = subscribe(db, "n", "t", "id=eq.1")
    by_owner = subscribe(db, "n", "t", "owner=eq.7")
    unfiltered = subscribe(db, "n", "t", None, "DELETE")
    db.execute("INSERT INTO t VALUES (1, 7, 'x')")
    slot.get()
    db.execute("DELETE FROM t WHERE id = 1")
    (doc,) = slot.get()
    assert doc["type"] == "DELETE" and "record" not in doc
    assert doc["old_record"] == {"id": 1}
    # owner is not in the old row under DEFAULT: that filter cannot match.
    assert targets_of(doc) == {"n": sorted([by_key, unfiltered])}
    assert by_owner not in doc["targets"]["n"]


def test_delete_under_replica_identity_full(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, owner int, note text)")
    db.execute("ALTER TABLE t REPLICA IDENTITY FULL")
    by_owner = subscribe(db, "n", "t", "owner=eq.7")
    db.execute("INSERT INTO t VALUES (1, 7, 'x'), (2, 8, 'y')")
    slot.get()
    db.execute("DELETE FROM t")
    docs = slot.get()
    assert [(d["old_record"], targets_of(d)) for d in docs] == [
        ({"id": 1, "owner": 7, "note": "x"}, {"n": [by_owner]})]


def test_update_old_record_under_full_and_key_change(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
    subscribe(db, "n", "t")
    db.execute("INSERT INTO t VALUES (1, 'a')")
    db.execute("UPDATE t SET id = 2 WHERE id = 1")
    db.execute("ALTER TABLE t REPLICA IDENTITY FULL")
    db.execute("UPDATE t SET v = 'b'")
    _, key_change, full = slot.get()
    assert key_change["old_record"] == {"id": 1} and key_change["record"] == {"id": 2, "v": "a"}
    assert full["old_record"] == {"id": 2, "v": "a"} and full["record"] == {"id": 2, "v": "b"}


def test_unchanged_toast_without_old_value_is_left_out(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, status text, body text)")
    sub = subscribe(db, "n", "t", "status=eq.done")
    big = db.scalar(BIG, (200,))  # 6400 bytes of hex
    db.execute("INSERT INTO t VALUES (1, 'todo', %s)", (big,))
    db.execute("UPDATE t SET status = 'done' WHERE id = 1")
    (doc,) = slot.get()
    assert doc["type"] == "UPDATE" and targets_of(doc) == {"n": [sub]}
    assert doc["record"] == {"id": 1, "status": "done"}
    assert "body" in [c["name"] for c in doc["columns"]]


def test_unchanged_toast_is_taken_from_the_old_row_under_full(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, status text, body text)")
    db.execute("ALTER TABLE t REPLICA IDENTITY FULL")
    subscribe(db, "n", "t", "status=eq.done")
    big = db.scalar(BIG, (200,))
    db.execute("INSERT INTO t VALUES (1, 'todo', %s)", (big,))
    db.execute("UPDATE t SET status = 'done' WHERE id = 1")
    (doc,) = slot.get()
    assert doc["record"] == {"id": 1, "status": "done", "body": big}
    assert doc["old_record"] == {"id": 1, "status": "todo", "body": big}


def test_filter_on_an_unchanged_toast_column(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, n int, body text)")
    big = db.scalar(BIG, (200,))
    on_body = subscribe(db, "n", "t", 'body=eq."%s"' % big)
    db.execute("INSERT INTO t VALUES (1, 0, %s)", (big,))
    db.execute("UPDATE t SET n = 1 WHERE id = 1")
    docs = slot.get()
    # The INSERT carries the value and matches; the UPDATE does not carry it.
    assert [(d["type"], targets_of(d)) for d in docs] == [("INSERT", {"n": [on_body]})]


def test_a_2mb_record_keeps_only_small_values(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, title text, body text, n numeric)")
    subscribe(db, "n", "t")
    big = db.scalar(BIG, (65536,))  # 2 MiB
    assert len(big) == 2 * 1024 * 1024
    sixty_four = "x" * 64
    db.execute("INSERT INTO t VALUES (1, %s, %s, 3.5)", (sixty_four, big))
    db.execute("INSERT INTO t VALUES (2, 'small', 'small', 1)")
    large, small = slot.peek()
    assert large["errors"] == ["Error 413: Payload Too Large"]
    assert large["record"] == {"id": 1, "title": sixty_four, "n": 3.5}
    assert small["errors"] is None and small["record"]["body"] == "small"

    # A limit above the record's size keeps everything.
    (full, _) = slot.peek(**opts(max_record_bytes=3 * 1024 * 1024))
    assert full["errors"] is None and full["record"]["body"] == big


def test_max_record_bytes_option(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, a text, b text)")
    subscribe(db, "n", "t")
    db.execute("INSERT INTO t VALUES (1, %s, 'short')", ("y" * 100,))
    (doc,) = slot.peek(**opts(max_record_bytes=120))
    assert doc["errors"] == ["Error 413: Payload Too Large"]
    assert doc["record"] == {"id": 1, "b": "short"}
    (doc,) = slot.peek(**opts(max_record_bytes=200))
    assert doc["errors"] is None and doc["record"]["a"] == "y" * 100


def test_413_applies_to_old_record_too(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, body text)")
    db.execute("ALTER TABLE t REPLICA IDENTITY FULL")
    subscribe(db, "n", "t")
    db.execute("INSERT INTO t VALUES (1, %s)", ("z" * 500,))
    db.execute("DELETE FROM t")
    _, delete = slot.get(**opts(max_record_bytes=200))
    assert delete["old_record"] == {"id": 1}
    assert delete["errors"] == ["Error 413: Payload Too Large"]
    assert json.dumps(delete)
    assert rows([delete])
