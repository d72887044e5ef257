"""realtime.subscribe rejects bad input with its own clear message and inserts nothing."""
import psycopg2
import pytest

from .helpers import subscribe


@pytest.fixture
def table(db):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, user_id int, status text, secret text)")
    db.execute("CREATE ROLE rt_reader NOLOGIN")
    db.execute("CREATE ROLE rt_nobody NOLOGIN")
    db.execute("GRANT SELECT (id, user_id, status) ON t TO rt_reader")
    yield "t"
    db.execute("DROP TABLE t")
    db.execute("DROP ROLE rt_reader")
    db.execute("DROP ROLE rt_nobody")


BAD_INPUTS = [
    # (table, filter, claims, expected message, SQLSTATE)
    ("no_such_table", None, None, 'relation "no_such_table" does not exist', "42P01"),
    ("t", "nope=eq.1", None, 'column "nope" does not exist in table t', "42703"),
    ("t", "user_id=foo.1", None, 'unknown filter operator "foo" in "user_id=foo.1"', "22023"),
    ("t", "user_id=EQ.1", None, 'unknown filter operator "EQ" in "user_id=EQ.1"', "22023"),
    ("t", "user_id=not.nope.1", None, 'unknown filter operator "nope"', "22023"),
    ("t", "user_id=like.1", None,
     'operator like is not supported for column "user_id" of type integer', "42883"),
    ("t", "user_id=imatch.1", None,
     'operator imatch is not supported for column "user_id" of type integer', "42883"),
    ("t", "user_id=is.true", None,
     'is true needs a boolean column; "user_id" is of type integer', "42804"),
    ("t", "user_id=is.nothing", None, 'invalid value "nothing" for the is operator', "22023"),
    ("t", "user_id=isdistinct.x", None,
     'invalid value "x" for column "user_id" of type integer', "22P02"),
    ("t", "status=match.(a", None,
     'invalid pattern "(a" for column "status" in filter "status=match.(a": invalid regular '
     'expression', "2201B"),
    ("t", "status=like.ab\\", None,
     'LIKE pattern must not end with escape character', "22025"),
    ("t", "user_id=in.(1,{2)", None, "the in list is not a valid list", "22023"),
    ("t", "user_id=in.(" + ",".join(["1"] * 101) + ")", None,
     "has 101 values in its in list; at most 100 are allowed", "54000"),
    ("t", "user_id=eq.abc", None,
     'invalid value "abc" for column "user_id" of type integer', "22P02"),
    ("t", "user_id=in.(1,x)", None,
     'invalid value "x" for column "user_id" of type integer', "22P02"),
    ("t", "status=eq.open", {"role": "rt_nobody"},
     'permission denied: role "rt_nobody" cannot SELECT from table t', "42501"),
    # Reading some columns is enough to subscribe, but not to filter on another one.
    ("t", "secret=eq.x", {"role": "rt_reader"},
     'permission denied: role "rt_reader" cannot SELECT column "secret" of table t', "42501"),
    ("t", "user_id42", None, 'malformed filter "user_id42"', "22023"),
    ("t", "user_id=eq", None, 'malformed filter "user_id=eq"', "22023"),
    ("t", "user_id=in.1,2", None, "the in operator takes a list in parentheses", "22023"),
    ("t", "user_id=eq.1,,status=eq.x", None, "empty condition in filter", "22023"),
    ("t", None, {"role": "no_such_role"}, 'role "no_such_role" does not exist', "42704"),
]


@pytest.mark.parametrize("entity,filter,claims,message,sqlstate", BAD_INPUTS,
                         ids=[case[3][:40] for case in BAD_INPUTS])
def test_bad_input_is_rejected_with_its_own_message(db, table, entity, filter, claims,
                                                    message, sqlstate):
    with pytest.raises(psycopg2.Error) as err:
        subscribe(db, "node-a", entity, filter, claims=claims)
    assert message in err.value.diag.message_primary
    assert err.value.pgcode == sqlstate
    assert db.scalar("SELECT count(*) FROM realtime.subscription") == 0


def test_bad_action_and_node(db, table):
    with pytest.raises(psycopg2.Error, match='invalid action filter "TRUNCATE"'):
        subscribe(db, "n", "t", None, "TRUNCATE")
    with pytest.raises(psycopg2.Error, match="node_id must not be empty"):
        subscribe(db, "", "t")
    assert db.scalar("SELECT count(*) FROM realtime.subscription") == 0


def test_row_level_security_is_accepted(db, table):
    """Rows are checked against the policies while decoding (tests/plugin/test_rls*.py)."""
    db.execute("GRANT SELECT ON t TO rt_nobody")
    db.execute("ALTER TABLE t ENABLE ROW LEVEL SECURITY")
    subscribe(db, "n", "t", claims={"role": "rt_nobody"})
    assert db.scalar("SELECT count(*) FROM realtime.subscription") == 1


def test_select_columns_are_checked(db, table):
    with pytest.raises(psycopg2.Error, match='column "nope" does not exist in table t'):
        db.scalar("SELECT realtime.subscribe('n', 't', '*', NULL, %s::jsonb, ARRAY['id', 'nope'])",
                  ('{"role": "rt_reader"}',))
    with pytest.raises(psycopg2.Error, match='cannot SELECT column "secret" of table t'):
        db.scalar("SELECT realtime.subscribe('n', 't', '*', NULL, %s::jsonb, ARRAY['secret'])",
                  ('{"role": "rt_reader"}',))
    assert db.scalar("SELECT count(*) FROM realtime.subscription") == 0


def test_schema_bindings_are_checked(db, table):
    with pytest.raises(psycopg2.Error, match='schema "nope" does not exist'):
        db.scalar("SELECT realtime.subscribe_schema('n', 'nope')")
    with pytest.raises(psycopg2.Error, match="it is a system or realtime catalog"):
        db.scalar("SELECT realtime.subscribe_schema('n', 'realtime')")
    db.execute("CREATE SCHEMA private_stuff")
    with pytest.raises(psycopg2.Error, match='role "rt_reader" has no USAGE on schema private_stuff'):
        db.scalar("SELECT realtime.subscribe_schema('n', 'private_stuff', '*', %s::jsonb)",
                  ('{"role": "rt_reader"}',))
    assert db.scalar("SELECT count(*) FROM realtime.subscription") == 0


def test_good_input_is_stored_parsed(db, table):
    db.execute("GRANT SELECT ON t TO rt_reader")
    sub = subscribe(db, "n", "t", 'status=in.(open,"a,b"),user_id=gte.5',
                    claims={"role": "rt_reader"})
    row = db.execute("SELECT node_id, action_filter, filter, filters, claims_role "
                     "FROM realtime.subscription WHERE id = %s", (sub,))[0]
    assert row == ("n", "*", 'status=in.(open,"a,b"),user_id=gte.5',
                   [{"column": "status", "op": "in", "values": ["open", "a,b"]},
                    {"column": "user_id", "op": "gte", "values": ["5"]}],
                   "rt_reader")


def test_values_are_checked_like_the_plugin_parses_them(db, slot):
    """With the column's input function and typmod, not a cast: a cast to varchar(3)
    would truncate 'abcd' (and then match 'abc'), a domain check would be skipped."""
    db.execute("CREATE DOMAIN positive_int AS int CHECK (VALUE > 0)")
    db.execute("CREATE TABLE v (id int PRIMARY KEY, code varchar(3), n numeric(10,2), p positive_int)")
    with pytest.raises(psycopg2.Error, match='invalid value "abcd" for column "code"'):
        subscribe(db, "n", "v", "code=eq.abcd")
    with pytest.raises(psycopg2.Error, match='invalid value "-1" for column "p"'):
        subscribe(db, "n", "v", "p=eq.-1")
    assert db.scalar("SELECT count(*) FROM realtime.subscription") == 0
    # numeric input rounds to the typmod: 1.005 is 1.01 for this column.
    rounded = subscribe(db, "n", "v", "n=eq.1.005")
    db.execute("INSERT INTO v VALUES (1, 'abc', 1.01, 1), (2, 'abd', 1.00, 2)")
    assert [(d["record"]["id"], d["targets"]) for d in slot.get()] == [(1, {"n": [rounded]})]


def test_an_over_long_filter_is_refused(db, table):
    """The bound is checked before any parsing (the old parser took 18 s on 120 KB)."""
    limit = db.scalar("SELECT realtime._max_filter_bytes()")
    assert limit == 16384
    huge = "status=in.(" + ",".join(["x"] * 60000) + ")"
    just_over = "status=eq." + "x" * (limit - len("status=eq.") + 1)
    for text in (huge, just_over):
        with pytest.raises(psycopg2.Error) as err:
            subscribe(db, "n", "t", text)
        assert err.value.pgcode == "54000"
        assert (f"filter is {len(text)} bytes long; at most {limit} bytes are allowed"
                in err.value.diag.message_primary)
    assert db.scalar("SELECT count(*) FROM realtime.subscription") == 0


def test_a_long_legal_filter_parses_and_matches(db, slot):
    """Just under the bound: an in list of 100 uuids (Supabase's largest) and hundreds
    of conditions, every one of them kept and applied."""
    db.execute("CREATE TABLE big (id int PRIMARY KEY, owner uuid, n int, tag text)")
    owners = [f"{i:08x}-0000-4000-8000-{i:012x}" for i in range(100)]
    conditions = ["owner=in.(" + ",".join(owners) + ")"]
    conditions += [f"n=gt.{i}" for i in range(500)] + [f'tag=neq."x,{i}"' for i in range(500)]
    text = ",".join(conditions)
    assert 15000 < len(text) <= db.scalar("SELECT realtime._max_filter_bytes()")
    sub = subscribe(db, "n", "big", text)
    stored = db.scalar("SELECT filters FROM realtime.subscription WHERE id = %s", (sub,))
    assert len(stored) == len(conditions)
    assert stored[0] == {"column": "owner", "op": "in", "values": owners}
    assert stored[-1] == {"column": "tag", "op": "neq", "values": ["x,499"]}

    db.execute("""INSERT INTO big VALUES (1, %s, 1000, 'a'), (2, %s, 499, 'a'),
                  (3, %s, 1000, 'x,7'), (4, '00000000-0000-0000-0000-000000000000', 1000, 'a')""",
               (owners[42], owners[0], owners[99]))
    got = {d["record"]["id"]: d["targets"] for d in slot.get()}
    assert got == {1: {"n": [sub]}}


def test_a_bad_value_deep_in_a_long_filter_is_named(db, table):
    conditions = [f"user_id=eq.{i}" for i in range(1000)]
    conditions[789] = "user_id=eq.12x"
    with pytest.raises(psycopg2.Error) as err:
        subscribe(db, "n", "t", ",".join(conditions))
    assert err.value.diag.message_primary.startswith(
        'invalid value "12x" for column "user_id" of type integer in filter "user_id=eq.12x"')
    assert db.scalar("SELECT count(*) FROM realtime.subscription") == 0


# Filters whose SQL operator exists but that the plugin cannot evaluate: it compares with
# the type's default btree (or, for equality, hash) operator class, and box has `=` and
# `<` but neither class; nor do arrays of box or domains over it.
NOT_COMPARABLE = ['b=eq."(1,1),(0,0)"', 'b=in.("(1,1),(0,0)")', 'b=not.eq."(1,1),(0,0)"',
                  'b=not.in.("(1,1),(0,0)")', 'b=isdistinct."(1,1),(0,0)"', 'b=lt."(1,1),(0,0)"',
                  'b=gte."(1,1),(0,0)"', 'bs=eq."{(1,1),(0,0)}"', 'd=eq."(1,1),(0,0)"']


@pytest.mark.parametrize("text", NOT_COMPARABLE)
def test_comparisons_the_plugin_cannot_evaluate_are_refused(db, text):
    db.execute("CREATE DOMAIN boxed AS box")
    db.execute("CREATE TABLE shapes (id int PRIMARY KEY, b box, bs box[], d boxed)")
    column, op = text.split("=")[0], text.split("=")[1].removeprefix("not.").split(".")[0]
    col_type = {"b": "box", "bs": "box[]", "d": "boxed"}[column]
    with pytest.raises(psycopg2.Error) as err:
        subscribe(db, "n", "shapes", text)
    assert err.value.diag.message_primary == (
        f'operator {op} is not supported for column "{column}" of type {col_type}')
    assert err.value.pgcode == "42883" and "operator class" in err.value.diag.message_detail
    assert db.scalar("SELECT count(*) FROM realtime.subscription") == 0


def test_comparisons_the_plugin_can_evaluate_are_kept(db, slot):
    """xid has equality through its hash operator class only; is null takes any type."""
    db.execute("CREATE TABLE shapes (id int PRIMARY KEY, b box, x xid)")
    by_xid = subscribe(db, "n", "shapes", "x=eq.5")
    by_null = subscribe(db, "n", "shapes", "b=is.null")
    with pytest.raises(psycopg2.Error, match="operator lt is not supported"):
        subscribe(db, "n", "shapes", "x=lt.5")
    db.execute("INSERT INTO shapes VALUES (1, NULL, '5'), (2, '(1,1),(0,0)', '5'), (3, NULL, '6')")
    got = {d["record"]["id"]: sorted(d["targets"]["n"]) for d in slot.get()}
    assert got == {1: sorted([by_xid, by_null]), 2: [by_xid], 3: [by_null]}


def test_a_comparison_stored_around_subscribe_matches_nothing_with_a_warning(db, slot):
    """The plugin keeps its own check for rows written past realtime.subscribe (or a
    column whose type changed since): that subscription matches nothing, decoding goes
    on for the others."""
    db.execute("CREATE TABLE shapes (id int PRIMARY KEY, b box)")
    good = subscribe(db, "n", "shapes", "id=eq.1")
    bad = db.scalar("""INSERT INTO realtime.subscription (node_id, entity, filters, claims_role)
                       VALUES ('n', 'shapes', '[{"column": "b", "op": "eq", "values": ["(1,1),(0,0)"]}]',
                               current_user) RETURNING id""")
    db.execute("INSERT INTO shapes VALUES (1, '(1,1),(0,0)'), (2, '(1,1),(0,0)')")
    db.conn.notices.clear()
    (doc,) = slot.get()
    failure = 'filter eq on column "b": operator eq is not supported for type box'
    assert (doc["record"]["id"], doc["targets"]) == (1, {"n": [good]})
    assert doc["failed"] == {"n": [{"id": bad, "message": failure}]}
    assert any(failure in n for n in db.conn.notices)
