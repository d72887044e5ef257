"""Value formats of Postgres Changes records: Supabase converts each value with
realtime.cast, `to_jsonb(value::type)` (bytea excepted: wal2json's hex, no \\x), in a UTC
session (lib/realtime/tenants/repo/migrations/20260218120000_fix_bytea_double_encoding_in_cast.ex,
realtime.apply_rls), and names each column's type by pg_type.typname in attnum order."""
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
