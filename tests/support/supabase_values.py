"""Supabase's values for a row, as its pipeline makes them: the oracle of the value
format tests (tests/plugin/test_value_format.py, tests/js/test_values_realtime_js.py).

Supabase reads wal2json (format-version 2, with the options its realtime.list_changes
passes) and turns each column's text into its value with realtime.cast: to_jsonb of the
text typed as the column, bytea's text as it is, in a session with Postgres' default
settings (UTC). Owns a table of columns of every kind of type with values that probe
the edges (NaN, infinities, BC dates, nested composites and arrays, NULLs), that
oracle, and how its records are compared (as JavaScript sees JSON).
"""
import json

# (column, type, values of rows 1 and 2 as SQL literals); row 3 is all NULL.
COLUMNS = [
    ("i2", "int2", "-32768", "7"),
    ("i4", "int4", "2147483647", "0"),
    ("i8", "int8", "9007199254740993", "-1"),
    ("o", "oid", "4000000000", "0"),
    ("f4", "float4", "1.1", "'NaN'"),
    ("f8", "float8", "1814.7000000029802", "'-Infinity'"),
    ("f8e", "float8", "1e-7", "'Infinity'"),
    ("f8big", "float8", "1e300", "-0.0"),
    ("n", "numeric", "12345.67890", "'NaN'"),
    ("n2", "numeric(12,3)", "-0.5", "1.5"),
    ("ninf", "numeric", "'Infinity'", "0"),
    ("nbig", "numeric", "123456789012345678901234567890.123", "'-Infinity'"),
    ("m", "money", "1234.5", "-0.01"),
    ("b", "bool", "true", "false"),
    ("j", "json", """'{"b": [1, "two", null], "a": {"c": 1.50}, "b": 2}'""", "'[]'"),
    ("jb", "jsonb", """'{"b": 1, "a": [true, 1e2]}'""", """'"just a string"'"""),
    ("t", "text", r"""E'quote " back \\ nl \n tab \t ctl \x01 ü 😀'""", "''"),
    ("vc", "varchar(10)", "'vc'", "'x,y'"),
    ("nm", "name", "'a name'", "''"),
    ("ch", '"char"', "'x'", "'\\'"),
    ("u", "uuid", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "'00000000-0000-0000-0000-000000000000'"),
    ("ip", "inet", "'10.0.0.1/8'", "'::1'"),
    ("cidr_", "cidr", "'10.0.0.0/8'", "'2001:db8::/32'"),
    ("mac", "macaddr", "'08:00:2b:01:02:03'", "'ff:ff:ff:ff:ff:ff'"),
    ("d", "date", "'2024-02-29'", "'4713-01-01 BC'"),
    ("dinf", "date", "'infinity'", "'-infinity'"),
    ("tm", "time", "'11:14:15.5'", "'24:00'"),
    ("ttz", "timetz", "'11:14:15.5+02'", "'00:00-05:30'"),
    ("ts", "timestamp", "'2024-02-29 11:14:15.5'", "'0044-03-15 12:00 BC'"),
    ("tsinf", "timestamp", "'infinity'", "'-infinity'"),
    ("tstz", "timestamptz", "'2024-02-29 11:14:15.5+00'", "'2024-02-29 23:59:59.999999-08'"),
    ("tstz3", "timestamptz(3)", "'2024-02-29 11:14:15.12345+01'", "'infinity'"),
    ("tstzbc", "timestamptz", "'0044-03-15 12:00+00 BC'", "'1970-01-01 00:00+00'"),
    ("iv", "interval", "'1 year 2 mons 3 days 04:05:06.5'", "'-1 day -00:00:01'"),
    ("by", "bytea", "'\\x0102ff'", "''"),
    ("bits", "varbit", "'10101'", "''"),
    ("e", "mood", "'happy'", "'sad'"),
    ("di", "positive", "5", "9007199254740993"),
    ("df", "dfloat", "1.5", "'NaN'"),
    ("dn", "dnumeric", "2.50", "'Infinity'"),
    ("dby", "dbytea", "'\\x0304'", "''"),
    ("dts", "dstamp", "'2024-02-29 11:14:15.5+00'", "'infinity'"),
    ("dj", "djson", """'{"k": [1]}'""", "'null'"),
    ("dt", "dtext", "'some text'", "''"),
    ("c", "pair", "ROW(1, 'x y', '2024-01-01 00:00+00', '\\x01', ARRAY[1.5, 'NaN']::float8[], 'happy')",
     "ROW(NULL, NULL, NULL, NULL, '{}', NULL)"),
    ("dc", "dpair", "ROW(2, '\"q\"', 'infinity', '', NULL, 'sad')", "ROW(NULL, NULL, NULL, NULL, NULL, NULL)"),
    ("nest", "outer_pair", "ROW(ROW(3, 'n', NULL, NULL, NULL, NULL), ARRAY[ROW(4, 'm', NULL, NULL, NULL, NULL)]::pair[])",
     "ROW(NULL, '{}')"),
    ("ir", "int4range", "'[1,5)'", "'empty'"),
    ("tr", "tstzrange", "'[2024-01-01 00:00+00,2024-01-02 00:00+02)'", "'(,)'"),
    ("dr", "daterange", "'[2024-01-01,2024-02-01)'", "'[2024-01-01,infinity)'"),
    ("nr", "numrange", "'[1.50,2.5]'", "'empty'"),
    ("mr", "int4multirange", "'{[1,3),[5,7)}'", "'{}'"),
    ("pt", "point", "'(1.5,2)'", "'(0,0)'"),
    ("tsv", "tsvector", "'a fat cat'", "''"),
    ("hs", "hstore", """'"a"=>"1", "b"=>NULL'""", "''"),
    ("xm", "xml", "'<a>x</a>'", "'text'"),
    ("ai", "int4[]", "'{1,NULL,3}'", "'{}'"),
    ("a2", "int4[][]", "'{{1,2},{3,4}}'", "'[2:3]={5,6}'"),
    ("at", "text[]", """'{"a b",c,NULL,"x,y","q\\"t","NULL"}'""", "'{\"\"}'"),
    ("af", "float8[]", "'{1.5,NaN,-Infinity,1e-7}'", "'{}'"),
    ("an", "numeric[]", "'{1.50,NaN,-2}'", "'{Infinity}'"),
    ("ab", "bool[]", "'{t,f,NULL}'", "'{}'"),
    ("ats", "timestamptz[]", "'{\"2024-02-29 12:00:00+00\",infinity}'", "'{NULL}'"),
    ("ad", "date[]", "'{2024-02-29}'", "'{}'"),
    ("aby", "bytea[]", "ARRAY['\\x01'::bytea, '']", "'{}'"),
    ("aj", "jsonb[]", """ARRAY['{"k":[1]}'::jsonb, 'null']""", "'{}'"),
    ("ajs", "json[]", """ARRAY['{"k": 1, "k": 2}'::json]""", "'{}'"),
    ("au", "uuid[]", "'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'", "'{}'"),
    ("ac", "pair[]", "ARRAY[ROW(1, 'a', NULL, NULL, NULL, 'sad')]::pair[]", "'{}'"),
    ("ae", "mood[]", "'{happy,sad}'", "'{}'"),
    ("adi", "positive[]", "'{1,2}'", "'{}'"),
    ("aiv", "interval[]", "'{\"1 day\",\"-2 hours\"}'", "'{}'"),
    ("air", "int4range[]", "'{\"[1,2)\"}'", "'{}'"),
    ("adom", "int_list", "'{7,8}'", "'{}'"),
]

TYPES_SQL = [
    "CREATE EXTENSION IF NOT EXISTS hstore",
    "CREATE TYPE mood AS ENUM ('happy', 'sad')",
    "CREATE DOMAIN positive AS int8 CHECK (VALUE > 0)",
    "CREATE DOMAIN dfloat AS float8",
    "CREATE DOMAIN dnumeric AS numeric",
    "CREATE DOMAIN dbytea AS bytea",
    "CREATE DOMAIN dstamp AS timestamptz",
    "CREATE DOMAIN djson AS json",
    "CREATE DOMAIN dtext AS text",
    "CREATE DOMAIN int_list AS int[]",
    "CREATE TYPE pair AS (a int, b text, at timestamptz, raw bytea, nums float8[], m mood)",
    "CREATE DOMAIN dpair AS pair",
    "CREATE TYPE outer_pair AS (p pair, ps pair[])",
]

# Supabase's realtime.cast: to_jsonb of the text typed as the column, bytea's text as is.
SUPABASE_CAST = """
CREATE FUNCTION pg_temp.supabase_cast(val text, type_ regtype, declared text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE res jsonb;
BEGIN
    IF type_::text = 'bytea' THEN
        RETURN to_jsonb(val);
    END IF;
    EXECUTE format('SELECT to_jsonb(%L::' || declared || ')', val) INTO res;
    RETURN res;
END $$"""

SUPABASE_SETTINGS = ["SET TIME ZONE 'UTC'", "SET DateStyle = 'ISO, MDY'",
                     "SET IntervalStyle = 'postgres'", "SET extra_float_digits = 1",
                     "SET bytea_output = 'hex'"]


def create_types(db):
    for statement in TYPES_SQL:
        db.execute(statement)


def create_table(db, table="v", replica_full=False):
    db.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, "
               + ", ".join(f"{name} {type_}" for name, type_, _, _ in COLUMNS) + ")")
    if replica_full:
        db.execute(f"ALTER TABLE {table} REPLICA IDENTITY FULL")


def insert_statements(table="v"):
    """Rows 1 and 2 with every value of COLUMNS, row 3 with NULLs only."""
    statements = [f"INSERT INTO {table} VALUES ({row}, "
                  + ", ".join(col[1 + row] for col in COLUMNS) + ")" for row in (1, 2)]
    return statements + [f"INSERT INTO {table} (id) VALUES (3)"]


def use_supabase_settings(db):
    """The settings Supabase's database sessions run with (wal2json and realtime.cast
    write with them)."""
    for statement in SUPABASE_SETTINGS:
        db.execute(statement)


def supabase_records(db, wal2json_texts, table="v"):
    """id -> the record Supabase builds from each wal2json INSERT document of table
    (kept as jsonb, so numbers keep their text, as in Supabase's realtime.apply_rls)."""
    use_supabase_settings(db)
    db.execute(SUPABASE_CAST)
    records = {}
    for text in wal2json_texts:
        doc = json.loads(text)
        if doc.get("action") != "I" or doc.get("table") != table:
            continue
        # A column's type as declared (Supabase casts to atttypid::regtype, which
        # drops typmods and so truncates char(n) values to one character: not followed).
        record = dict(db.execute(
            """SELECT c->>'name', pg_temp.supabase_cast(c->'value' #>> '{}',
                          (c->>'typeoid')::oid::regtype, format_type(a.atttypid, a.atttypmod))
                 FROM jsonb_array_elements(%s::jsonb -> 'columns') c
                 JOIN pg_attribute a ON a.attrelid = %s::regclass AND a.attname = c->>'name'""",
            (text, table)))
        records[record["id"]] = record
    return records


def wal2json_changes(db, slot_name):
    """The documents of the wal2json slot, with the options Supabase passes."""
    data = db.execute(
        "SELECT data FROM pg_logical_slot_get_changes(%s, NULL, NULL, 'include-pk', 'true', "
        "'include-transaction', 'false', 'include-timestamp', 'true', "
        "'include-type-oids', 'true', 'format-version', '2')", (slot_name,))
    return [d for (d,) in data]


def same_json(a, b):
    """Equal as JavaScript sees them: numbers are doubles (1e+300 is Supabase's
    1000...000), objects unordered."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def differences(ours, theirs):
    missing = "<missing>"
    return {k: (ours.get(k, missing), theirs.get(k, missing)) for k in set(ours) | set(theirs)
            if k not in ours or k not in theirs or not same_json(ours[k], theirs[k])}
