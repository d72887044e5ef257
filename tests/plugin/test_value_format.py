"""Values in `record` and `old_record` as Supabase sends them: every type compared with
what Supabase's own pipeline makes of the same row (wal2json reading the same WAL, then
Supabase's realtime.cast; see tests/support/supabase_values.py), as parsed JSON (key
order and number spelling aside: 1e-07 and 0.0000001 are one number)."""
from support.supabase_values import (create_table, create_types, differences,
                                     insert_statements, supabase_records,
                                     use_supabase_settings, wal2json_changes)

from .helpers import opts, rows, subscribe


def test_every_type_is_written_as_supabase_writes_it(db, slot):
    db.execute("SELECT pg_create_logical_replication_slot('w2j', 'wal2json')")
    create_types(db)
    create_table(db)
    subscribe(db, "n", "v")
    for statement in insert_statements():
        db.execute(statement)
    # Settings of the decoding session must not matter (the plugin pins its own).
    for statement in ("SET TIME ZONE 'America/New_York'", "SET DateStyle = 'SQL, DMY'",
                      "SET IntervalStyle = 'sql_standard'", "SET extra_float_digits = 0",
                      "SET bytea_output = 'escape'"):
        db.execute(statement)
    ours = {d["record"]["id"]: d["record"] for d in rows(slot.get(**opts(arrays_as_json=True)))}
    assert db.scalar("SHOW TimeZone") == "America/New_York"
    assert db.scalar("SHOW DateStyle") == "SQL, DMY"

    use_supabase_settings(db)  # wal2json writes with the session's settings
    theirs = supabase_records(db, wal2json_changes(db, "w2j"))
    assert sorted(ours) == sorted(theirs) == [1, 2, 3]
    for row in (1, 2, 3):
        assert differences(ours[row], theirs[row]) == {}, row
    assert ours[1]["tstz"] == "2024-02-29T11:14:15.5+00:00"
    assert ours[1]["by"] == "0102ff" and ours[1]["dby"] == "\\x0304"
    assert ours[2]["f4"] is None and ours[2]["df"] == "NaN" and ours[2]["af"] == []
    assert ours[1]["c"]["at"] == "2024-01-01T00:00:00+00:00" and ours[1]["hs"] == {"a": "1", "b": None}


def test_old_records_and_arrays_as_text(db, slot):
    """old_record follows the same rules; without arrays-as-json arrays stay their text
    (design 3.3), the rest is unchanged."""
    create_types(db)
    create_table(db, replica_full=True)
    subscribe(db, "n", "v")
    for statement in insert_statements():
        db.execute(statement)
    db.execute("DELETE FROM v WHERE id = 1")
    docs = rows(slot.peek())
    inserted = docs[0]["record"]
    deleted = docs[-1]["old_record"]
    assert deleted == inserted
    assert inserted["ai"] == "{1,NULL,3}" and inserted["a2"] == "{{1,2},{3,4}}"
    assert inserted["adom"] == "{7,8}"
    as_json = rows(slot.get(**opts(arrays_as_json=True)))
    assert as_json[0]["record"]["ai"] == [1, None, 3]
    assert {k: v for k, v in as_json[0]["record"].items() if k[0] != "a"} == \
        {k: v for k, v in inserted.items() if k[0] != "a"}


def test_char_n_keeps_its_value(db, slot):
    """Supabase casts a char(4) value to `character`, char(1), and sends one character:
    a bug we do not copy. The value is the type's text output, padding included."""
    db.execute("CREATE TABLE c (id int PRIMARY KEY, code char(4))")
    subscribe(db, "n", "c")
    db.execute("INSERT INTO c VALUES (1, 'ab')")
    assert [d["record"] for d in slot.get()] == [{"id": 1, "code": "ab  "}]


def test_a_composite_type_changed_after_the_table_was_seen(db, slot):
    """ALTER TYPE invalidates no table: the plugin notices the row type changed."""
    db.execute("CREATE TYPE pt AS (x int, y int)")
    db.execute("CREATE TABLE c (id int PRIMARY KEY, p pt)")
    subscribe(db, "n", "c")
    db.execute("INSERT INTO c VALUES (1, ROW(1, 2))")
    db.execute("ALTER TYPE pt ADD ATTRIBUTE z timestamptz")
    db.execute("INSERT INTO c VALUES (2, ROW(3, 4, '2024-01-01 00:00+00'))")
    db.execute("ALTER TYPE pt DROP ATTRIBUTE x")
    db.execute("INSERT INTO c VALUES (3, ROW(5, NULL))")
    got = [d["record"]["p"] for d in rows(slot.get())]
    assert got == [{"x": 1, "y": 2}, {"x": 3, "y": 4, "z": "2024-01-01T00:00:00+00:00"},
                   {"y": 5, "z": None}]
