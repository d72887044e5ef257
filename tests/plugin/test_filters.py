"""Filters: every operator on every supported type, compared with the type's own
semantics (Postgres itself is the oracle), AND-ed filters, NULLs and action filters."""
import pytest

from .helpers import rows, subscribe, targets_of

SQL_OPS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
ALL_OPS = ["eq", "neq", "lt", "lte", "gt", "gte"]

# type -> (row values, filters on column v). Row values are SQL input texts.
TYPE_CASES = {
    "text": (["apple", "banana", "Banana", "cherry", "banana "],
             [f"v={op}.banana" for op in ALL_OPS] + ["v=in.(apple,cherry)",
                                                     'v=eq."banana "']),
    "uuid": (["00000000-0000-0000-0000-000000000001",
              "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
              "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
              "ffffffff-0000-0000-0000-000000000000"],
             [f"v={op}.a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11" for op in ALL_OPS]
             + ["v=in.(00000000-0000-0000-0000-000000000001,FFFFFFFF-0000-0000-0000-000000000000)"]),
    "timestamptz": (["2024-01-01 12:00:00+00", "2024-01-01 13:00:00+01",
                     "2024-01-01 12:00:00.000001+00", "2023-12-31 23:59:59+00"],
                    [f"v={op}.2024-01-01 12:00:00+00" for op in ALL_OPS]
                    + ["v=in.(2024-01-01 07:00:00-05,2023-12-31 23:59:59Z)"]),
    "bool": (["true", "false"],
             [f"v={op}.true" for op in ALL_OPS] + ["v=eq.false", "v=in.(f)"]),
    "int2": (["-5", "0", "7", "32767"],
             [f"v={op}.7" for op in ALL_OPS] + ["v=in.(0,32767)"]),
    "int4": (["-2147483648", "0", "42", "2147483647"],
             [f"v={op}.42" for op in ALL_OPS] + ["v=in.(-2147483648,2147483647)"]),
    "int8": (["-1", "9007199254740993", "9007199254740992", "0"],
             [f"v={op}.9007199254740993" for op in ALL_OPS] + ["v=in.(-1,0)"]),
    "float4": (["0.1", "1.5", "-2.25", "Infinity", "NaN"],
               [f"v={op}.0.1" for op in ALL_OPS] + ["v=in.(1.5,Infinity)", "v=eq.NaN"]),
    "float8": (["0.1", "1.5", "-2.25", "-Infinity", "NaN"],
               [f"v={op}.1.5" for op in ALL_OPS] + ["v=in.(0.1,-Infinity)", "v=eq.NaN"]),
    "numeric": (["1.00", "1", "2.5", "-3", "NaN"],
                [f"v={op}.1.0" for op in ALL_OPS] + ["v=in.(2.50,-3.000)", "v=eq.NaN"]),
    "date": (["2024-02-29", "2024-03-01", "2023-01-01"],
             [f"v={op}.2024-02-29" for op in ALL_OPS] + ["v=in.(2023-01-01,2024-03-01)"]),
    "jsonb": (['{"a": 1, "b": 2}', '{"b":2,"a":1}', "[1, 2]", '"x"', '{"a": 1}', "1.0"],
              ['v=eq.{"a":1}', 'v=neq.{"a":1}', 'v=eq."{\\"b\\": 2, \\"a\\": 1}"',
               'v=in.(1,"\\"x\\"")']),
}


def expected_matches(db, typename, values, sub_ids):
    """Row index -> ids of the subscriptions Postgres' own operators say match."""
    subs = db.execute("SELECT id, f->>'op', f->'values' FROM realtime.subscription, "
                      "jsonb_array_elements(filters) f WHERE id = ANY(%s)", (sub_ids,))
    expected = {i: set() for i in range(len(values))}
    for i, value in enumerate(values):
        for sub_id, op, constants in subs:
            if op == "in":
                hit = any(db.scalar(f"SELECT %s::{typename} = %s::{typename}", (value, c))
                          for c in constants)
            else:
                hit = db.scalar(f"SELECT %s::{typename} {SQL_OPS[op]} %s::{typename}",
                                (value, constants[0]))
            if hit:
                expected[i].add(sub_id)
    return expected


@pytest.mark.parametrize("typename", sorted(TYPE_CASES))
def test_every_operator_matches_like_the_types_own_operators(db, slot, typename):
    values, filters = TYPE_CASES[typename]
    db.execute(f"CREATE TABLE t (id int PRIMARY KEY, v {typename})")
    sub_ids = [subscribe(db, "n", "t", f) for f in filters]
    expected = expected_matches(db, typename, values, sub_ids)
    # The oracle must itself discriminate, or this test could not fail.
    assert any(expected.values()) and not all(len(s) == len(sub_ids) for s in expected.values())

    for i, value in enumerate(values):
        db.execute("INSERT INTO t VALUES (%s, %s)", (i, value))
    db.execute("INSERT INTO t VALUES (%s, NULL)", (len(values),))

    got = {d["record"]["id"]: set(d["targets"].get("n", [])) for d in rows(slot.get())}
    want = {i: ids for i, ids in expected.items() if ids}
    assert got == want


def test_numeric_scale_does_not_matter(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, amount numeric)")
    one = subscribe(db, "n", "t", "amount=eq.1.0")
    listed = subscribe(db, "n", "t", "amount=in.(2.50,7)")
    db.execute("INSERT INTO t VALUES (1, 1.00), (2, 1), (3, 2.5), (4, 1.01), (5, 7.000)")
    got = {d["record"]["id"]: targets_of(d)["n"] for d in rows(slot.get())}
    assert got == {1: [one], 2: [one], 3: [listed], 5: [listed]}


def test_timestamptz_compares_instants_not_text(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, at timestamptz)")
    sub = subscribe(db, "n", "t", "at=eq.2024-06-01 12:00:00+00")
    db.execute("INSERT INTO t VALUES (1, '2024-06-01 14:00:00+02'), (2, '2024-06-01 12:00:00+01')")
    assert [(d["record"]["id"], targets_of(d)) for d in rows(slot.get())] == [(1, {"n": [sub]})]


def test_jsonb_equality_ignores_key_order_and_spacing(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, doc jsonb)")
    sub = subscribe(db, "n", "t", 'doc=eq."{\\"b\\": [1, 2], \\"a\\": null}"')
    db.execute("""INSERT INTO t VALUES (1, '{"a":null,"b":[1,2]}'), (2, '{"a":null,"b":[2,1]}')""")
    assert [(d["record"]["id"], targets_of(d)) for d in rows(slot.get())] == [(1, {"n": [sub]})]


def test_text_equality_is_exact(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, name text)")
    sub = subscribe(db, "n", "t", "name=eq.Zoë")
    db.execute("INSERT INTO t VALUES (1, 'Zoë'), (2, 'zoë'), (3, 'Zoe'), (4, 'Zoë ')")
    assert [d["record"]["id"] for d in rows(slot.get())] == [1]
    assert sub


def test_filters_are_anded(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, status text, n int, owner uuid)")
    both = subscribe(db, "n", "t", "status=in.(open,closed),n=gte.5")
    three = subscribe(db, "n", "t",
                      "n=gt.1,n=lt.10,owner=eq.11111111-1111-1111-1111-111111111111")
    db.execute("""INSERT INTO t VALUES
        (1, 'open', 5, NULL),
        (2, 'open', 4, '11111111-1111-1111-1111-111111111111'),
        (3, 'draft', 9, '11111111-1111-1111-1111-111111111111'),
        (4, 'closed', 10, '11111111-1111-1111-1111-111111111111'),
        (5, 'draft', 10, NULL)""")
    got = {d["record"]["id"]: targets_of(d)["n"] for d in rows(slot.get())}
    assert got == {1: [both], 2: [three], 3: [three], 4: [both]}


def test_null_matches_no_operator(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    for f in ["v=eq.1", "v=neq.1", "v=lt.1", "v=gt.1", "v=in.(1,2)"]:
        subscribe(db, "n", "t", f)
    unfiltered = subscribe(db, "n", "t")
    db.execute("INSERT INTO t VALUES (1, NULL)")
    assert [targets_of(d) for d in rows(slot.get())] == [{"n": [unfiltered]}]


def test_action_filters(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, v int)")
    db.execute("ALTER TABLE t REPLICA IDENTITY FULL")
    subs = {action: subscribe(db, "n", "t", "v=eq.1", action)
            for action in ("*", "INSERT", "UPDATE", "DELETE")}
    lower = subscribe(db, "n", "t", None, "insert")
    db.execute("INSERT INTO t VALUES (1, 1)")
    db.execute("UPDATE t SET v = 1 WHERE id = 1")
    db.execute("DELETE FROM t WHERE id = 1")
    got = [(d["type"], targets_of(d)["n"]) for d in rows(slot.get())]
    assert got == [
        ("INSERT", sorted([subs["*"], subs["INSERT"], lower])),
        ("UPDATE", sorted([subs["*"], subs["UPDATE"]])),
        ("DELETE", sorted([subs["*"], subs["DELETE"]])),
    ]


def test_update_is_filtered_on_the_new_row(db, slot):
    db.execute("CREATE TABLE t (id int PRIMARY KEY, status text)")
    sub = subscribe(db, "n", "t", "status=eq.done")
    db.execute("INSERT INTO t VALUES (1, 'todo'), (2, 'done')")
    db.execute("UPDATE t SET status = 'done' WHERE id = 1")
    db.execute("UPDATE t SET status = 'todo' WHERE id = 2")
    got = [(d["type"], d["record"]["id"]) for d in rows(slot.get())]
    assert got == [("INSERT", 2), ("UPDATE", 1)]
    assert sub


def test_many_subscriptions_on_other_values_do_not_match(db, slot):
    """Hash collisions or anchoring mistakes would show up as extra targets."""
    db.execute("CREATE TABLE t (id int PRIMARY KEY, k int, tag text)")
    db.execute("""SELECT realtime.subscribe('n', 't'::regclass, '*', 'k=eq.' || i)
                  FROM generate_series(1, 300) i""")
    db.execute("""SELECT realtime.subscribe('m', 't'::regclass, '*', 'tag=in.(t' || i || ',x' || i || ')')
                  FROM generate_series(1, 300) i""")
    db.execute("INSERT INTO t SELECT i, i * 7 % 500, 't' || (i * 3 % 400) FROM generate_series(1, 200) i")
    ids = {(node, k): sub_id for sub_id, node, k in db.execute(
        "SELECT id, node_id, filters->0->'values'->>0 FROM realtime.subscription")}
    for d in rows(slot.get()):
        k, tag = d["record"]["k"], d["record"]["tag"]
        want = {}
        if 1 <= k <= 300:
            want["n"] = [ids[("n", str(k))]]
        if 1 <= int(tag[1:]) <= 300:
            want["m"] = [ids[("m", tag)]]
        assert targets_of(d) == want
