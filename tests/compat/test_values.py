"""Value formats of Postgres Changes records: Supabase converts each value with
realtime.cast, `to_jsonb(value::type)` of wal2json's text (bytea excepted: wal2json's
hex, no \\x; NaN and infinities of float and numeric columns: null), in a UTC
session (lib/realtime/tenants/repo/migrations/20260218120000_fix_bytea_double_encoding_in_cast.ex,
realtime.apply_rls), and names each column's type by pg_type.typname in attnum order.
Postgres itself is the oracle here: the expected record is to_jsonb of the same row."""
import json

from support.phoenix import PhoenixClient, run, unique_topic

from .helpers import binding, postgres_change, subscribed

TYPES = """
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TYPE pair AS (a int, b text);
CREATE TABLE public.kinds (
    id bigint PRIMARY KEY,
    i2 int2, i4 int4, f4 float4, f8 float8, f8_inf float8, num numeric, num_nan numeric, cash money,
    flag bool, t text, vc varchar(10), ch char(3), u uuid,
    d date, tm time, tmtz timetz, ts timestamp, tstz timestamptz, iv interval,
    b bytea, j json, jb jsonb,
    ai int4[], at text[], ab bool[], an numeric[], atstz timestamptz[], aj jsonb[], a2 int4[][],
    m mood, am mood[], dom posint, comp pair, ip inet, r int4range, tr tstzrange, x xml, bits varbit
);
GRANT SELECT ON public.kinds TO anon;
"""

ROW = """
INSERT INTO public.kinds VALUES (
    1, -32768, 2147483647, 3.14159, 1814.7000000029802, 'Infinity', 123456789012345678901234567890.123456789,
    'NaN', 1234.56,
    true, 'héllo "q" \\ x', 'abc', 'ab', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    '2024-02-29', '11:14:15.5', '11:14:15.5+02', '2024-02-29 11:14:15.5', '2024-02-29 11:14:15.5+00',
    '1 day 02:03:04.5',
    '\\xdeadbeef00ff', '{"a": [1, 2.50, null]}', '{"a": [1, 2.50, null], "b": {"c": "d"}}',
    '{1,2,3}', '{"a b","c,d","e\\"f",NULL}', '{t,f}', '{1.5,2}', '{"2024-02-29 11:14:15+00"}',
    ARRAY['{"k": 1}'::jsonb], '{{1,2},{3,4}}',
    'happy', '{sad,ok}', 42, ROW(1, 'x y'), '192.168.0.1/24', '[1,10)', '[2024-01-01 00:00+00,2024-01-02 00:00+00)',
    '<a>b</a>', B'1011'
)"""


NOT_JSON_NUMBERS = ("NaN", "Infinity", "-Infinity")


def expected_record(db):
    """What Supabase sends for the row: to_jsonb of every column in a UTC session, except
    where wal2json's text is not the type's: bytea as hex without the \\x prefix, and a
    float4, float8 or numeric NaN or infinity as null (not a JSON number, so wal2json
    writes null, which realtime.cast keeps)."""
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("SET TimeZone = 'UTC'")
        cur.execute("SELECT (to_jsonb(k) - 'b' || jsonb_build_object('b', encode(b, 'hex')))::text FROM kinds k")
        record = json.loads(cur.fetchone()[0])
    numeric = {c["name"] for c in expected_columns(db) if c["type"] in ("float4", "float8", "numeric")}
    return {k: None if k in numeric and v in NOT_JSON_NUMBERS else v for k, v in record.items()}


def expected_columns(db):
    rows = db.execute("""SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
                         WHERE a.attrelid = 'public.kinds'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                         ORDER BY a.attnum""")
    return [{"name": n, "type": t} for n, t in rows]


async def inserted(db, relay):
    """The INSERT of ROW as a subscriber of public.kinds receives it."""
    c = await PhoenixClient.open(relay, "2.0.0")
    topic = unique_topic()
    await subscribed(c, topic, [binding("INSERT", table="kinds")])
    db.execute(ROW)
    return (await postgres_change(c, topic))["data"]


def test_columns_are_typnames_in_attnum_order(cdc):
    """apply_rls "columns": pg_type.typname of each column (arrays _int4, enums, domains,
    composite types by their own names), in attnum order."""
    db, relay = cdc
    db.execute(TYPES)

    async def body():
        assert (await inserted(db, relay))["columns"] == expected_columns(db)
    run(body())


def test_record_values_are_to_jsonb_of_each_column(cdc):
    db, relay = cdc
    db.execute(TYPES)

    async def body():
        data = await inserted(db, relay)
        want = expected_record(db)
        wrong = {k: (data["record"].get(k), v) for k, v in want.items() if data["record"].get(k) != v}
        assert not wrong, "column: (sent, Supabase's) " + json.dumps(wrong, indent=1, ensure_ascii=False)
        assert set(data["record"]) == set(want)
    run(body())


def test_old_record_values_use_the_same_formats(cdc):
    """UPDATE and DELETE old_record values (REPLICA IDENTITY FULL) go through the same cast."""
    db, relay = cdc
    db.execute(TYPES + "ALTER TABLE public.kinds REPLICA IDENTITY FULL;")
    db.execute(ROW)
    want = expected_record(db)

    async def body():
        c = await PhoenixClient.open(relay, "2.0.0")
        topic = unique_topic()
        await subscribed(c, topic, [binding("DELETE", table="kinds")])
        db.execute("DELETE FROM kinds")
        data = (await postgres_change(c, topic))["data"]
        wrong = {k: (data["old_record"].get(k), v) for k, v in want.items() if data["old_record"].get(k) != v}
        assert not wrong, "column: (sent, Supabase's) " + json.dumps(wrong, indent=1, ensure_ascii=False)
    run(body())
