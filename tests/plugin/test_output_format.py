"""The documents' format: fields, column types, value encodings, LSNs and timestamps,
change_index, and what INSERT, UPDATE and DELETE carry."""
import datetime
import json
import re

from .helpers import opts, rows, subscribe, targets_of

LSN = re.compile(r"^[0-9A-F]+/[0-9A-F]+$")


def lsn_value(text):
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def test_insert_update_delete_documents(db, slot):
    db.execute("CREATE TABLE todos (id bigint PRIMARY KEY, title text, done bool)")
    sub = subscribe(db, "node-a", "todos")
    db.execute("INSERT INTO todos VALUES (46, 'buy milk', false)")
    db.execute("UPDATE todos SET done = true WHERE id = 46")
    db.execute("DELETE FROM todos WHERE id = 46")
    raw = slot.get_raw()
    docs = [json.loads(data) for _, data in raw]
    insert, update, delete = docs

    assert list(insert) == ["type", "schema", "table", "commit_timestamp", "commit_lsn", "lsn",
                            "change_index", "columns", "record", "targets", "errors"]
    assert insert["type"] == "INSERT" and insert["schema"] == "public" and insert["table"] == "todos"
    assert insert["columns"] == [{"name": "id", "type": "int8"}, {"name": "title", "type": "text"},
                                 {"name": "done", "type": "bool"}]
    assert insert["record"] == {"id": 46, "title": "buy milk", "done": False}
    assert insert["targets"] == {"node-a": [sub]} and insert["errors"] is None

    assert list(update) == ["type", "schema", "table", "commit_timestamp", "commit_lsn", "lsn",
                            "change_index", "columns", "record", "old_record", "targets", "errors"]
    assert update["record"] == {"id": 46, "title": "buy milk", "done": True}
    # Replica identity DEFAULT: the old row is the key.
    assert update["old_record"] == {"id": 46}

    assert "record" not in delete and delete["old_record"] == {"id": 46}
    assert delete["type"] == "DELETE"

    for (lsn, _), doc in zip(raw, docs):
        assert LSN.match(doc["lsn"]) and LSN.match(doc["commit_lsn"])
        assert doc["lsn"] == lsn  # the change's own LSN
        assert lsn_value(doc["lsn"]) < lsn_value(doc["commit_lsn"])
    assert lsn_value(insert["commit_lsn"]) < lsn_value(update["lsn"])


def test_commit_timestamp_is_utc_milliseconds(db, slot):
    db.execute("CREATE TABLE t (id int)")
    subscribe(db, "n", "t")
    db.execute("SET TIME ZONE 'America/New_York'")
    before = datetime.datetime.now(datetime.timezone.utc)
    db.execute("INSERT INTO t VALUES (1)")
    after = datetime.datetime.now(datetime.timezone.utc)
    (doc,) = slot.get()
    stamp = doc["commit_timestamp"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", stamp), stamp
    at = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    slack = datetime.timedelta(seconds=1)
    assert before - slack <= at <= after + slack


def test_value_encodings(db, slot):
    db.execute("CREATE DOMAIN positive AS int8 CHECK (VALUE > 0)")
    db.execute("""CREATE TABLE v (
        a int2, b int4, c int8, d oid, e float4, f float8, g numeric, h bool,
        i json, j jsonb, k text, l varchar(10), m char(4), n timestamptz, o int4[],
        p uuid, q date, r positive, s bytea, t text)""")
    subscribe(db, "n", "v")
    db.execute("SET TIME ZONE 'UTC'")
    db.execute("""INSERT INTO v VALUES (
        -2, 2147483647, 9007199254740993, 4000000000, 1.5, 1e-7, 12345.6789, true,
        '{"x": [1, "two"], "y": null}', '{"b": 1, "a": [true]}',
        E'quote " back \\\\ nl \\n tab \\t ctl \\x01 ü',
        'vc', 'ab', '2024-02-29 12:34:56.789+00', '{1,2,3}',
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29', 5, '\\x0102', NULL)""")
    db.execute("""INSERT INTO v (e, f, g) VALUES ('NaN', 'Infinity', 'NaN'),
                                                ('-Infinity', '-Infinity', '-Infinity')""")
    texts = [data for _, data in slot.get_raw()]
    first, nan, neg = [json.loads(t) for t in texts]

    types = {c["name"]: c["type"] for c in first["columns"]}
    assert types == {"a": "int2", "b": "int4", "c": "int8", "d": "oid", "e": "float4",
                     "f": "float8", "g": "numeric", "h": "bool", "i": "json", "j": "jsonb",
                     "k": "text", "l": "varchar", "m": "bpchar", "n": "timestamptz",
                     "o": "_int4", "p": "uuid", "q": "date", "r": "positive", "s": "bytea",
                     "t": "text"}
    r = first["record"]
    assert r["a"] == -2 and r["b"] == 2147483647 and r["c"] == 9007199254740993
    # oid is a string, as to_jsonb writes it (realtime-js makes a number of it).
    assert r["d"] == "4000000000" and r["e"] == 1.5 and r["f"] == 1e-7 and r["h"] is True
    assert '"g":12345.6789' in texts[0]  # numeric keeps its digits, as a JSON number
    assert r["i"] == {"x": [1, "two"], "y": None} and r["j"] == {"a": [True], "b": 1}
    assert r["k"] == 'quote " back \\ nl \n tab \t ctl \x01 ü'
    assert r["l"] == "vc" and r["m"] == "ab  "
    # ISO 8601 in UTC, as Supabase sends it; bytea as wal2json's hex digits.
    assert r["n"] == "2024-02-29T12:34:56.789+00:00" and r["o"] == "{1,2,3}"
    assert r["p"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" and r["q"] == "2024-02-29"
    assert r["r"] == 5 and r["s"] == "0102" and r["t"] is None

    # NaN and the infinities are null, as wal2json (and so Supabase) writes them.
    for doc in (nan, neg):
        assert all(doc["record"][k] is None for k in "efg"), doc["record"]
    assert '"e":null,"f":null,"g":null' in texts[1]


def test_dropped_and_added_columns(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, gone text, kept text)")
    subscribe(db, "n", "t")
    db.execute("INSERT INTO t VALUES (1, 'x', 'a')")
    db.execute("ALTER TABLE t DROP COLUMN gone")
    db.execute("INSERT INTO t VALUES (2, 'b')")
    db.execute("ALTER TABLE t ADD COLUMN extra int DEFAULT 7")
    db.execute("INSERT INTO t VALUES (3, 'c', 8)")
    first, second, third = slot.get()
    assert [c["name"] for c in first["columns"]] == ["id", "gone", "kept"]
    assert [c["name"] for c in second["columns"]] == ["id", "kept"]
    assert second["record"] == {"id": 2, "kept": "b"}
    assert third["record"] == {"id": 3, "kept": "c", "extra": 8}


def test_change_index_counts_every_row_change_and_is_stable(db, slot):
    """Every row change counts, emitted or not; logical messages are not decoded."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int)")
    db.execute("CREATE TABLE other (id int)")
    sub = subscribe(db, "n", "t", "k=eq.1")
    db.execute("""BEGIN;
        INSERT INTO t VALUES (1, 0);
        INSERT INTO other VALUES (1);
        SELECT pg_logical_emit_message(true, 'someone.else', 'x');
        SELECT pg_logical_emit_message(false, 'not.transactional', 'x');
        INSERT INTO realtime.messages (topic, extension) VALUES ('room', 'broadcast');
        INSERT INTO t VALUES (2, 1);
        INSERT INTO realtime.messages (topic, extension, event, payload) VALUES ('room', 'broadcast', 'e', '{}');
        UPDATE t SET k = 1 WHERE id = 1;
        COMMIT""")
    first = slot.peek()
    assert [(d["type"], d["change_index"]) for d in first] == [
        ("INSERT", 3), ("BROADCAST", 4), ("UPDATE", 5)]
    assert all(targets_of(d) == {"n": [sub]} for d in rows(first))
    # Another session, other options: same positions.
    everything = slot.peek(**opts(include_unmatched=True))
    assert [(d["type"], d["change_index"]) for d in everything] == [
        ("INSERT", 0), ("INSERT", 1), ("INSERT", 3), ("BROADCAST", 4), ("UPDATE", 5)]
    assert slot.get() == first
    assert len({d["commit_lsn"] for d in first}) == 1


def test_arrays_as_json_option(db, slot):
    """The relay asks for arrays as JSON arrays: realtime-js cannot parse array text with
    quoted elements or NULLs. Without the option arrays stay text (design 3.3)."""
    db.execute("""CREATE TABLE arr (id int PRIMARY KEY, ints int4[], words text[], flags bool[],
                                    nums numeric[], grid int[][], docs jsonb[], stamps timestamptz[])""")
    subscribe(db, "n", "arr")
    db.execute("""INSERT INTO arr VALUES (1, '{1,NULL,3}', '{"a b",c,NULL,"x,y","q\\"t"}', '{t,f}',
                  '{1.50,-2}', '{{1,2},{3,4}}', ARRAY['{"k":[1]}'::jsonb], '{"2024-02-29 12:00:00+00"}')""")
    (as_text,) = slot.peek()
    (as_json,) = slot.get(**opts(arrays_as_json=True))
    assert as_text["record"]["ints"] == "{1,NULL,3}"
    r = as_json["record"]
    assert r["ints"] == [1, None, 3]
    assert r["words"] == ["a b", "c", None, "x,y", 'q"t']
    assert r["flags"] == [True, False]
    assert r["nums"] == [1.5, -2]
    assert r["grid"] == [[1, 2], [3, 4]]
    assert r["docs"] == [{"k": [1]}]
    assert r["stamps"][0].startswith("2024-02-29T12:00:00")
    assert [c["type"] for c in as_json["columns"]][1:4] == ["_int4", "_text", "_bool"]
