"""Supabase's newer filter operators (like, ilike, match, imatch, is, isdistinct) and the
not. prefix before any operator, in the plugin, compared with Postgres itself: for each
subscription, the rows it receives are the rows for which the WHERE clause Supabase
evaluates for that filter (realtime.check_equality_op) is true, run by Postgres on the
same rows. Types, NULLs, collations (ICU case folding) and anchored eq/in variants."""
import psycopg2
import psycopg2.extras
import pytest

from .helpers import rows, subscribe

SQL_OPS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=",
           "like": "LIKE", "ilike": "ILIKE", "match": "~", "imatch": "~*"}

TEXT_ROWS = ["apple", "Apple", "APPLE", "banana", "a%b", "a_b", "axb", "a\\b", "",
             "straße", "STRASSE", "Ärger", "ärger", "x.y", "a,b", None]
TEXT_FILTERS = [
    "v=like.a%", "v=like.A%", "v=ilike.a%", "v=ilike.%SS%", "v=ilike.%ß%", "v=like.a\\%b",
    "v=like.a_b", "v=like.%", "v=ilike.ÄR%", "v=not.like.a%", "v=not.ilike.%an%",
    'v=like."a,b"', "v=like.a\\\\b", "v=match.^a", "v=match.^[[:upper:]]", "v=imatch.^ä",
    "v=not.match.^a", "v=match.(p)\\1", "v=imatch.^strasse$", "v=not.imatch.E",
    "v=is.null", "v=not.is.null", "v=isdistinct.apple", "v=not.isdistinct.apple",
    "v=in.(apple,NULL)", "v=not.in.(apple,NULL)", "v=not.in.(apple,banana)", "v=in.()",
    "v=not.in.()", "v=eq.apple", "v=not.eq.apple", "v=neq.apple", "v=not.neq.apple",
    "v=lt.b", "v=not.lt.b", "v=gte.B", "v=not.gte.B", "v=in.(APPLE,axb)",
]
PATTERNS = ["v=like.a%", "v=ilike.A%", "v=like.%b%", "v=not.ilike.%B", "v=match.^a",
            "v=imatch.^A", "v=not.match.b$", "v=eq.ab", "v=is.null", "v=not.is.null"]

# name -> (column type, row values (SQL input text or None), filters on column v)
CASES = {
    "text": ("text", TEXT_ROWS, TEXT_FILTERS),
    "text_icu_turkish": (
        'text COLLATE "tr-x-icu"',
        ["İstanbul", "istanbul", "ISTANBUL", "ıstanbul", "Istanbul", None],
        ["v=ilike.istanbul", "v=ilike.ISTANBUL", "v=imatch.^istanbul", "v=imatch.^ıs",
         "v=not.ilike.istanbul", "v=like.I%", "v=lt.j", "v=match.^[[:lower:]]"]),
    "text_icu_german": ("text COLLATE \"de-x-icu\"", TEXT_ROWS, TEXT_FILTERS),
    "varchar": ("varchar(10)", ["ab", "AB", "abc", "b", None], PATTERNS),
    "bpchar": ("char(4)", ["ab", "AB", "abc", "b", None],
               PATTERNS + ["v=like.ab", 'v=like."ab  "', "v=match.^ab$", "v=match.^ab *$"]),
    "name": ("name", ["ab", "AB", "abc", "b"], PATTERNS),
    "citext": ("citext", ["ab", "AB", "abc", "b", "Straße", None],
               PATTERNS + ["v=eq.AB", "v=like.AB%", "v=match.^AB", "v=in.(B,x)",
                           "v=isdistinct.aB"]),
    "bytea": ("bytea", ["abc", "a%b", "\\x00ff", "", None],
              ["v=like.a%", "v=like.a\\\\%b", "v=not.like.%b%", "v=like.%", "v=is.null",
               "v=not.isdistinct.abc", "v=eq.\\x00ff"]),
    "text_domain": ("short_text", ["ab", "AB", "abc", None], PATTERNS),
    "bool": ("bool", ["true", "false", None],
             ["v=is.true", "v=is.false", "v=is.unknown", "v=is.null", "v=not.is.true",
              "v=not.is.false", "v=not.is.unknown", "v=not.is.null", "v=eq.true",
              "v=not.eq.true", "v=isdistinct.true", "v=not.isdistinct.false", "v=in.(t,NULL)",
              "v=not.in.(t,NULL)", "v=not.in.(f)"]),
    "bool_domain": ("flag", ["true", "false", None],
                    ["v=is.true", "v=not.is.false", "v=is.unknown", "v=not.is.null"]),
    "int": ("int", ["1", "5", "7", None],
            ["v=is.null", "v=not.is.null", "v=isdistinct.5", "v=not.isdistinct.5",
             "v=in.(1,NULL)", "v=not.in.(1,NULL)", "v=not.in.(1,5)", "v=in.()", "v=not.in.()",
             "v=not.eq.5", "v=not.lt.5", "v=not.gte.5", "v=eq.5", "v=in.(5,7)"]),
    "composite": ("pair", [None, "(,)", "(1,)", "(1,x)", "(,x)"],
                  ["v=is.null", "v=not.is.null", "v=isdistinct.(1,)", "v=not.isdistinct.(1,)",
                   "v=eq.(1,x)", "v=not.eq.(1,x)", 'v=in.("(1,x)","(1,)")']),
    "composite_domain": ("pair_domain", [None, "(,)", "(1,)", "(1,x)"],
                         ["v=is.null", "v=not.is.null"]),
    "uuid": ("uuid", ["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                      "00000000-0000-0000-0000-000000000000", None],
             ["v=is.null", "v=isdistinct.A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
              "v=not.in.(00000000-0000-0000-0000-000000000000)", "v=not.is.null"]),
    "timestamptz": ("timestamptz", ["2024-01-01 12:00+00", "2024-01-01 13:00+01", None],
                    ["v=isdistinct.2024-01-01 12:00:00Z", "v=not.isdistinct.2024-01-01 12:00Z",
                     "v=is.null", "v=not.gt.2024-01-01 11:00Z"]),
    "float8": ("float8", ["NaN", "1.5", "-0", "0", None],
               ["v=isdistinct.NaN", "v=not.isdistinct.NaN", "v=not.eq.NaN", "v=eq.0",
                "v=not.isdistinct.0", "v=in.(NaN,1.5)"]),
}

TYPES_SQL = [
    "CREATE EXTENSION IF NOT EXISTS citext",
    "CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 10)",
    "CREATE DOMAIN flag AS bool",
    "CREATE TYPE pair AS (a int, b text)",
    "CREATE DOMAIN pair_domain AS pair",
]


def array_literal(values):
    """A Postgres array literal of the in list's values (None is NULL)."""
    def element(v):
        if v is None:
            return "NULL"
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "{" + ",".join(element(v) for v in values) + "}"


def where_clause(db, f, column_type):
    """The WHERE clause Supabase evaluates for a stored filter, in SQL: values typed as
    the column, patterns as Postgres types a literal for the operator (Supabase casts
    them to the column's type too, which truncates a pattern for char(n) to one
    character; we follow Postgres there)."""
    col, op, values, negate = '"' + f["column"] + '"', f["op"], f["values"], f.get("not", False)

    def typed(v):
        return db.scalar("SELECT quote_literal(%s)", (v,)) + "::" + column_type

    if op == "is":
        return f"{col} IS {'NOT ' if negate else ''}{values[0].upper()}"
    if op == "isdistinct":
        return f"{col} IS {'NOT ' if negate else ''}DISTINCT FROM {typed(values[0])}"
    if op == "in":
        expr = f"{col} = ANY({typed(array_literal(values))}[])"
    elif op in ("like", "ilike", "match", "imatch"):
        expr = f"{col} {SQL_OPS[op]} {db.scalar('SELECT quote_literal(%s)', (values[0],))}"
    else:
        expr = f"{col} {SQL_OPS[op]} {typed(values[0])}"
    return f"NOT ({expr})" if negate else expr


def expected(db, subs, column_type):
    """Row id -> ids of the subscriptions whose WHERE clause Postgres finds true."""
    want = {}
    for sub_id, filters in subs:
        where = " AND ".join(where_clause(db, f, column_type) for f in filters)
        for (row_id,) in db.execute(f"SELECT id FROM t WHERE {where}"):
            want.setdefault(row_id, set()).add(sub_id)
    return want


@pytest.mark.parametrize("case", sorted(CASES))
def test_operators_match_what_postgres_returns_for_the_same_where(db, slot, case):
    column_type, values, filters = CASES[case]
    for statement in TYPES_SQL:
        db.execute(statement)
    db.execute(f"CREATE TABLE t (id int PRIMARY KEY, v {column_type})")
    sub_ids = [subscribe(db, "n", "t", f) for f in filters]
    for i, value in enumerate(values):
        db.execute("INSERT INTO t VALUES (%s, %s)", (i, value))

    subs = db.execute("SELECT id, filters FROM realtime.subscription ORDER BY id")
    declared = db.scalar("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                         "WHERE attrelid = 't'::regclass AND attname = 'v'")
    want = expected(db, subs, declared)
    # The oracle must itself discriminate, or this test could not fail.
    assert want and any(len(ids) < len(sub_ids) for ids in want.values())
    assert set().union(*want.values()) != set() and len(want) <= len(values)

    got = {d["record"]["id"]: set(d["targets"]["n"]) for d in rows(slot.get())}
    mismatches = {row: (sorted(want.get(row, ())), sorted(got.get(row, ())))
                  for row in set(want) | set(got) if want.get(row) != got.get(row)}
    by_id = dict(zip(sub_ids, filters))
    assert not mismatches, {values[row]: {"want": [by_id[i] for i in w],
                                          "got": [by_id[i] for i in g]}
                            for row, (w, g) in mismatches.items()}


def test_filters_with_not_on_updates_and_deletes(db, slot):
    """The same rules on the new row of an UPDATE and the old row of a DELETE."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, name text, flag bool)")
    db.execute("ALTER TABLE t REPLICA IDENTITY FULL")
    not_bot = subscribe(db, "n", "t", "name=not.ilike.%bot%")
    flagged = subscribe(db, "n", "t", "flag=is.true,name=not.is.null")
    db.execute("INSERT INTO t VALUES (1, 'RoBoT', true), (2, 'alice', NULL)")
    db.execute("UPDATE t SET name = 'bob', flag = true WHERE id = 1")
    db.execute("UPDATE t SET name = NULL WHERE id = 2")
    db.execute("DELETE FROM t WHERE id = 1")
    got = [(d["type"], d.get("record", d.get("old_record"))["id"], sorted(d["targets"]["n"]))
           for d in rows(slot.get())]
    assert got == [("INSERT", 1, [flagged]), ("INSERT", 2, [not_bot]),
                   ("UPDATE", 1, sorted([not_bot, flagged])), ("DELETE", 1, sorted([not_bot, flagged]))]


def text_operator(db, name):
    return db.scalar("SELECT oid::int FROM pg_operator WHERE oprname = %s "
                     "AND oprleft = 'text'::regtype AND oprright = 'text'::regtype", (name,))


def test_stored_form(db):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, name text, n int)")
    sub = subscribe(db, "n", "t", 'name=not.ilike."a,b%",n=in.(1,NULL),n=not.is.null,'
                                  'n=isdistinct.3,name=match.^x')
    (filters,) = db.execute("SELECT filters FROM realtime.subscription WHERE id = %s", (sub,))[0]
    ilike_op, match_op = (text_operator(db, "~~*"), text_operator(db, "~"))
    assert filters == [
        {"column": "name", "op": "ilike", "not": True, "values": ["a,b%"], "operator": ilike_op},
        {"column": "n", "op": "in", "values": ["1", None]},
        {"column": "n", "op": "is", "not": True, "values": ["null"]},
        {"column": "n", "op": "isdistinct", "values": ["3"]},
        {"column": "name", "op": "match", "values": ["^x"], "operator": match_op},
    ]


# (filter, stored values of its first condition or the error it raises), as Supabase's
# parser reads the text.
SYNTAX = [
    ('s=eq."open', ['"open']),                # an unterminated quote stays in the value
    ('s=eq."a\\"b"', ['a"b']),                # backslash escapes
    ('s=eq."a""b"', ['"a""b"']),              # "" is no escape: the value is kept as is
    ('s=eq.(a,b)', ["(a,b)"]),                # parentheses protect commas
    ('s=like."x,y"', ["x,y"]),                # a quote after "." opens a quoted stretch
    ('s=in.(a, "b,c" ,NULL,"NULL",\\"q)', ["a", "b,c", None, "NULL", '"q']),
    ("s=in.()", []),
    ("  s=eq.x  ,  s=eq.y ", ["x"]),
    ('s=eq.a"b,c"', 'malformed filter "c""'),  # a quote after a letter does not quote
    ("s=eq.x,y", 'malformed filter "y"'),
    ("s=not.eq", 'malformed filter "s=not.eq"'),
    ("s=NOT.eq.x", 'unknown filter operator "NOT"'),
]


@pytest.mark.parametrize("text,outcome", SYNTAX, ids=[s[0] for s in SYNTAX])
def test_filter_text_is_read_as_supabase_reads_it(db, text, outcome):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, s text)")
    if isinstance(outcome, str):
        with pytest.raises(psycopg2.Error, match=outcome.replace("(", r"\(")):
            subscribe(db, "n", "t", text)
        return
    sub = subscribe(db, "n", "t", text)
    filters = db.scalar("SELECT filters FROM realtime.subscription WHERE id = %s", (sub,))
    assert filters[0]["values"] == outcome


def test_a_pattern_the_plugin_cannot_use_matches_nothing_and_decoding_goes_on(db, slot):
    """A row written around realtime.subscribe (bad regex, wrong operator) must not stop
    the slot: the subscription matches nothing, the others keep matching."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, s text)")
    good = subscribe(db, "n", "t", "s=match.^a")
    text_regex, text_like = text_operator(db, "~"), text_operator(db, "~~")
    int_lt = db.scalar("SELECT oid::int FROM pg_operator WHERE oprname = '<' "
                       "AND oprleft = 'int'::regtype AND oprright = 'int'::regtype")
    bad = []
    for filters in ([{"column": "s", "op": "match", "values": ["("], "operator": text_regex}],
                    [{"column": "s", "op": "like", "values": ["a\\"], "operator": text_like}],
                    [{"column": "s", "op": "like", "values": ["a%"], "operator": int_lt}],
                    [{"column": "s", "op": "like", "values": ["a%"]}]):
        # claims_role names a role that may read t, so the filter is what fails.
        bad.append(db.scalar("INSERT INTO realtime.subscription (node_id, entity, filters, claims_role) "
                             "VALUES ('n', 't', %s::jsonb, current_user) RETURNING id",
                             (psycopg2.extras.Json(filters),)))
    db.execute("INSERT INTO t VALUES (1, 'abc'), (2, 'a\\b'), (3, 'b')")
    docs = rows(slot.get())
    got = {d["record"]["id"]: d["targets"] for d in docs}
    assert got == {1: {"n": [good]}, 2: {"n": [good]}}
    failed = [f for d in docs for f in (d.get("failed") or {}).get("n", [])]
    assert sorted(f["id"] for f in failed) == sorted(bad)
    assert all(f["message"].startswith("filter ") for f in failed), failed


def test_more_distinct_regexes_than_postgres_caches(db, slot):
    """Postgres' regex cache holds 32 compiled expressions; the plugin compiles each
    subscription's own, so 40 distinct patterns on one table each keep matching exactly
    their rows (and cost no recompilation per row: bench, not test)."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, code text)")
    subs = {i: subscribe(db, "n", "t", f"code=imatch.^c{i}(x|y)$") for i in range(40)}
    db.execute("INSERT INTO t SELECT i, CASE WHEN i % 2 = 0 THEN 'C' ELSE 'c' END "
               "|| (i % 40) || CASE WHEN i % 3 = 0 THEN 'x' ELSE 'Y' END "
               "FROM generate_series(0, 119) i")
    db.execute("INSERT INTO t VALUES (1000, 'c1z'), (1001, 'xc1x')")
    got = {d["record"]["id"]: d["targets"]["n"] for d in rows(slot.get())}
    assert got == {i: [subs[i % 40]] for i in range(120)}
