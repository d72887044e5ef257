"""Row level security in the plugin: who receives a change is who may SELECT that row
image (permissive policies ORed, restrictive ANDed, FORCE, owners, BYPASSRLS, roles and
membership, TO PUBLIC, default deny), with the common policy shapes compiled into the
index (no check left for the relay) and the others sent as checks that
realtime.check_rows evaluates."""
import uuid

import pytest

from .helpers import check_rows, failed_of, recipients, rows, subscribe_as

U1, U2, U3 = (str(uuid.UUID(int=i)) for i in (1, 2, 3))
ORG_A, ORG_B = str(uuid.UUID(int=100)), str(uuid.UUID(int=200))


def user(sub, role="authenticated", **claims):
    return {"role": role, "sub": sub, **claims}


@pytest.fixture
def todos(app_db):
    app_db.execute("""
        CREATE TABLE todos (id int PRIMARY KEY, user_id uuid, org_id uuid, status text,
                            public boolean, deleted_at timestamptz, title text);
        GRANT SELECT ON todos TO anon, authenticated;
        ALTER TABLE todos ENABLE ROW LEVEL SECURITY""")
    return app_db


ROWS = [
    (1, U1, ORG_A, "open", False, None),
    (2, U2, ORG_A, "closed", True, None),
    (3, U1, ORG_B, "open", False, "2024-01-01"),
    (4, None, ORG_B, "draft", None, None),
]


def insert_rows(db):
    for r in ROWS:
        db.execute("INSERT INTO todos VALUES (%s, %s, %s, %s, %s, %s, 'x')", r)


def received(db, docs):
    """{subscription: [ids of the rows it receives]}."""
    out = {}
    for d in docs:
        for sub in recipients(db, d):
            out.setdefault(sub, []).append(d["record"]["id"])
    return out


COMPILED_SHAPES = [
    # (policy USING clause, claims per subscriber, rows each receives)
    ("auth.uid() = user_id", [user(U1), user(U2), user(U3)], [[1, 3], [2], []]),
    ("user_id = (select auth.uid())", [user(U1), user(U2)], [[1, 3], [2]]),
    ("user_id IN (select auth.uid())", [user(U1), user(U2)], [[1, 3], [2]]),
    ("(auth.jwt() ->> 'org_id')::uuid = org_id",
     [user(U1, org_id=ORG_A), user(U2, org_id=ORG_B), user(U3)], [[1, 2], [3, 4], []]),
    ("auth.role() = 'authenticated'", [user(U1), user(U2, role="anon")], [[1, 2, 3, 4], []]),
    ("true", [user(U1), user(U2, role="anon")], [[1, 2, 3, 4], [1, 2, 3, 4]]),
    ("status = any(array['open', 'draft'])", [user(U1)], [[1, 3, 4]]),
    ("status <> all(array['open', 'draft'])", [user(U1)], [[2]]),
    ("public", [user(U1)], [[2]]),
    ("not public", [user(U1)], [[1, 3]]),
    ("deleted_at IS NULL AND user_id = auth.uid()", [user(U1), user(U2)], [[1], [2]]),
    ("auth.uid() = user_id OR public", [user(U1), user(U3)], [[1, 2, 3], [2]]),
    ("status = 'open' AND (org_id = (auth.jwt() ->> 'org_id')::uuid OR user_id = auth.uid())",
     [user(U2, org_id=ORG_B), user(U2, org_id=ORG_A)], [[3], [1]]),
    ("NOT (status = 'open' OR status IS NULL)", [user(U1)], [[2, 4]]),
    ("current_user = 'authenticated' AND id >= 3", [user(U1), user(U1, role="anon")], [[3, 4], []]),
    ("user_id = current_setting('request.jwt.claim.sub', true)::uuid", [user(U2)], [[2]]),
]


@pytest.mark.parametrize("qual,claims,expected", COMPILED_SHAPES, ids=[c[0] for c in COMPILED_SHAPES])
def test_common_shapes_are_compiled(todos, slot, qual, claims, expected):
    todos.execute(f"CREATE POLICY p ON todos FOR SELECT USING ({qual})")
    subs = [subscribe_as(todos, "n", "todos", c) for c in claims]
    insert_rows(todos)
    docs = rows(slot.get())
    assert all("checks" not in d for d in docs), "the policy was not compiled"
    got = received(todos, docs)
    assert [got.get(s, []) for s in subs] == expected


def test_permissive_or_restrictive_and_default_deny(todos, slot):
    todos.execute("""
        CREATE POLICY mine ON todos FOR SELECT TO authenticated USING (user_id = auth.uid());
        CREATE POLICY shown ON todos FOR SELECT TO authenticated USING (public);
        CREATE POLICY alive ON todos AS RESTRICTIVE FOR SELECT USING (deleted_at IS NULL);
        -- Restrictive policies alone grant nothing: anon sees no row.
        CREATE POLICY anon_alive ON todos AS RESTRICTIVE FOR SELECT TO anon USING (true);
        -- Not a SELECT policy: it does not widen what is read.
        CREATE POLICY ins ON todos FOR INSERT TO authenticated WITH CHECK (true)""")
    u1 = subscribe_as(todos, "n", "todos", user(U1))
    anon = subscribe_as(todos, "n", "todos", user(None, role="anon"))
    insert_rows(todos)
    got = received(todos, rows(slot.get()))
    assert got.get(u1) == [1, 2] and anon not in got


def test_owners_bypassrls_superusers_and_force(todos, slot):
    todos.execute("""
        CREATE ROLE rt_owner NOLOGIN; CREATE ROLE rt_bypass NOLOGIN BYPASSRLS;
        CREATE ROLE rt_owner_member NOLOGIN IN ROLE rt_owner;
        GRANT SELECT ON todos TO rt_bypass;
        ALTER TABLE todos OWNER TO rt_owner;
        CREATE POLICY none_for_them ON todos FOR SELECT USING (false)""")
    try:
        owner = subscribe_as(todos, "n", "todos", {"role": "rt_owner"})
        member = subscribe_as(todos, "n", "todos", {"role": "rt_owner_member"})
        bypass = subscribe_as(todos, "n", "todos", {"role": "rt_bypass"})
        superuser = subscribe_as(todos, "n", "todos", {"role": "postgres"})
        todos.execute("INSERT INTO todos (id) VALUES (1)")
        todos.execute("ALTER TABLE todos FORCE ROW LEVEL SECURITY")
        todos.execute("INSERT INTO todos (id) VALUES (2)")
        got = received(todos, rows(slot.get()))
        # Owners (by membership too) bypass unless FORCEd; BYPASSRLS and superusers always.
        assert got == {owner: [1], member: [1], bypass: [1, 2], superuser: [1, 2]}
    finally:
        todos.execute("DROP TABLE todos; DROP ROLE rt_owner_member, rt_owner, rt_bypass")


def test_policies_to_roles_and_membership(todos, slot):
    todos.execute("""
        CREATE ROLE rt_staff NOLOGIN; CREATE ROLE rt_clerk NOLOGIN IN ROLE rt_staff;
        CREATE ROLE rt_guest NOLOGIN;
        GRANT SELECT ON todos TO rt_staff, rt_clerk, rt_guest;
        CREATE POLICY staff ON todos FOR SELECT TO rt_staff USING (status = 'open');
        CREATE POLICY everyone ON todos FOR SELECT TO PUBLIC USING (status = 'draft')""")
    try:
        staff = subscribe_as(todos, "n", "todos", {"role": "rt_staff"})
        clerk = subscribe_as(todos, "n", "todos", {"role": "rt_clerk"})
        guest = subscribe_as(todos, "n", "todos", {"role": "rt_guest"})
        insert_rows(todos)
        got = received(todos, rows(slot.get()))
        assert got == {staff: [1, 3, 4], clerk: [1, 3, 4], guest: [4]}
    finally:
        todos.execute("DROP TABLE todos; DROP ROLE rt_clerk, rt_staff, rt_guest")


def test_filters_and_policies_both_apply(todos, slot):
    todos.execute("CREATE POLICY p ON todos FOR SELECT USING (org_id = (auth.jwt()->>'org_id')::uuid)")
    sub = subscribe_as(todos, "n", "todos", user(U1, org_id=ORG_A), filter="status=eq.open")
    insert_rows(todos)
    assert received(todos, rows(slot.get())) == {sub: [1]}


def test_membership_sub_select_goes_to_the_general_path(todos, slot):
    todos.execute("""
        CREATE TABLE members (org_id uuid, user_id uuid);
        GRANT SELECT ON members TO authenticated;
        INSERT INTO members VALUES (%s, %s), (%s, %s);
        CREATE POLICY own ON todos FOR SELECT TO authenticated USING (user_id = auth.uid());
        CREATE POLICY org ON todos FOR SELECT TO authenticated USING (
            org_id IN (SELECT m.org_id FROM members m WHERE m.user_id = (SELECT auth.uid())))""",
                  (ORG_A, U2, ORG_B, U3))
    subs = [subscribe_as(todos, "n", "todos", user(u)) for u in (U1, U2, U3)]
    insert_rows(todos)
    docs = rows(slot.get())
    first = docs[0]
    # Row 1 is U1's own: compiled; the others are candidates of the membership check.
    assert first["targets"] == {"n": [subs[0]]}
    assert [v["check"] for v in first["views"]] == [0]
    assert first["checks"][0]["role"] == "authenticated" and not first["checks"][0]["per_user"]
    assert first["check_row"].startswith(f"(1,{U1},{ORG_A},open,f,")
    assert received(todos, docs) == {subs[0]: [1, 3], subs[1]: [1, 2], subs[2]: [3, 4]}


def test_a_function_that_hides_the_claims_is_checked_per_user(todos, slot):
    todos.execute("""
        CREATE FUNCTION my_org() RETURNS uuid LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
            BEGIN RETURN (current_setting('request.jwt.claims', true)::jsonb ->> 'org_id')::uuid; END $$;
        CREATE POLICY org ON todos FOR SELECT USING (org_id = my_org())""")
    subs = [subscribe_as(todos, "n", "todos", user(U1, org_id=o)) for o in (ORG_A, ORG_B)]
    insert_rows(todos)
    docs = rows(slot.get())
    assert docs[0]["checks"][0]["per_user"] is True
    assert received(todos, docs) == {subs[0]: [1, 2], subs[1]: [3, 4]}


def test_a_failing_user_fails_alone(todos, slot):
    todos.execute("CREATE POLICY p ON todos FOR SELECT USING (user_id = auth.uid())")
    good = subscribe_as(todos, "n", "todos", user(U1))
    bad = subscribe_as(todos, "n", "todos", user("not-a-uuid"))
    insert_rows(todos)
    docs = rows(slot.get())
    assert failed_of(docs[0]) == {bad: 'invalid input syntax for type uuid: "not-a-uuid"'}
    assert all(not failed_of(d) for d in docs[1:]), "reported once"
    assert received(todos, docs) == {good: [1, 3]}


def test_a_failing_check_is_reported_by_check_rows(todos, slot):
    """A general-path qual that raises for one user: realtime.check_rows says whose."""
    todos.execute("""
        CREATE TABLE members (org_id uuid, user_id uuid);
        GRANT SELECT ON members TO authenticated;
        CREATE POLICY org ON todos FOR SELECT USING (EXISTS (
            SELECT 1 FROM members m WHERE m.org_id = todos.org_id
               AND m.user_id = (current_setting('request.jwt.claims')::jsonb ->> 'member')::uuid))""")
    todos.execute("INSERT INTO members VALUES (%s, %s)", (ORG_A, U1))
    ok = subscribe_as(todos, "n", "todos", user(U1, member=U1))
    bad = subscribe_as(todos, "n", "todos", user(U2, member="nope"))
    todos.execute("INSERT INTO todos (id, org_id) VALUES (1, %s)", (ORG_A,))
    doc = rows(slot.get())[0]
    result = check_rows(todos, doc, 0)
    assert result[ok] is None and 'invalid input syntax for type uuid: "nope"' in result[bad]
    assert recipients(todos, doc) == {ok: sorted(c["name"] for c in doc["columns"])}


def test_execute_privilege_of_policy_functions(todos, slot):
    todos.execute("""
        CREATE FUNCTION is_open(s text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT s = 'open' $$;
        REVOKE EXECUTE ON FUNCTION is_open(text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION is_open(text) TO authenticated;
        CREATE POLICY p ON todos FOR SELECT USING (is_open(status))""")
    allowed = subscribe_as(todos, "n", "todos", user(U1))
    refused = subscribe_as(todos, "n", "todos", user(U1, role="anon"))
    insert_rows(todos)
    docs = rows(slot.get())
    assert failed_of(docs[0]) == {refused: "permission denied for function is_open"}
    assert received(todos, docs) == {allowed: [1, 3]}


def test_check_rows_ignores_ids_that_are_no_candidates(todos, slot):
    """Only subscriptions of the check's role on that table are evaluated: a wrong id
    from the caller (another table, another role) can never pass."""
    todos.execute("""
        CREATE TABLE other (id int PRIMARY KEY); GRANT SELECT ON other TO authenticated, anon;
        CREATE TABLE members (org_id uuid, user_id uuid);
        GRANT SELECT ON members TO authenticated, anon;
        CREATE POLICY org ON todos FOR SELECT USING (
            org_id IN (SELECT m.org_id FROM members m WHERE m.user_id = auth.uid()))""")
    todos.execute("INSERT INTO members VALUES (%s, %s), (%s, %s)", (ORG_A, U1, ORG_A, U2))
    member = subscribe_as(todos, "n", "todos", user(U1))
    other_table = subscribe_as(todos, "n", "other", user(U2))
    other_role = subscribe_as(todos, "n", "todos", user(U2, role="anon"))
    todos.execute("INSERT INTO todos (id, org_id) VALUES (1, %s)", (ORG_A,))
    doc = rows(slot.get())[0]
    spec = doc["checks"][0]
    passed = todos.execute(
        "SELECT row_number, subscription_id, error FROM realtime.check_rows(%s, %s, %s, %s, %s, %s, %s)",
        ("public", "todos", spec["role"], spec["quals"], spec["per_user"], [doc["check_row"]],
         [member, other_table, other_role]))
    assert passed == [(1, member, None)]


def test_check_rows_with_pairs_checks_only_the_pairs_asked_for(todos, slot):
    """pair_rows (the relay's form): candidate ids[k] against row pair_rows[k] only, so a
    batch of documents with different candidates is not checked against the union of
    them; without it, every row against every candidate."""
    todos.execute("""
        CREATE TABLE members (org_id uuid, user_id uuid);
        GRANT SELECT ON members TO authenticated;
        CREATE POLICY org ON todos FOR SELECT USING (
            org_id IN (SELECT m.org_id FROM members m WHERE m.user_id = auth.uid()))""")
    todos.execute("INSERT INTO members VALUES (%s, %s), (%s, %s)", (ORG_A, U1, ORG_A, U2))
    one, two = subscribe_as(todos, "n", "todos", user(U1)), subscribe_as(todos, "n", "todos", user(U2))
    todos.execute("INSERT INTO todos (id, org_id) VALUES (1, %s), (2, %s)", (ORG_A, ORG_A))
    docs = rows(slot.get())
    spec = docs[0]["checks"][0]
    images = [d["check_row"] for d in docs]
    sql = ("SELECT row_number, subscription_id, error FROM realtime.check_rows(%s, %s, %s, %s, %s, %s, %s{}) "
           "ORDER BY 1, 2")
    args = ("public", "todos", spec["role"], spec["quals"], spec["per_user"], images)
    assert todos.execute(sql.format(""), args + ([one, two],)) == [
        (1, one, None), (1, two, None), (2, one, None), (2, two, None)]
    assert todos.execute(sql.format(", %s"), args + ([one, two, two], [1, 2, 9])) == [(1, one, None), (2, two, None)]
    with pytest.raises(Exception, match="one row number per id"):
        todos.execute(sql.format(", %s"), args + ([one, two], [1]))
