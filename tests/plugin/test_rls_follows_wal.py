"""Authorization follows the WAL: a privilege, policy or role change applies to every change
committed after it and to none before, because the decoder decides each change under the
catalog of its commit. Each test makes its changes first and decodes them all at once at
the end, so the catalog change is in the middle of the stream being decoded. These are the
leaks of the check made once at subscribe time: each would deliver rows it must not."""
import pytest

from .helpers import failed_of, recipients, rows, subscribe_as

ANN = {"role": "authenticated", "name": "ann"}


@pytest.fixture
def notes(app_db):
    app_db.execute("""
        CREATE TABLE notes (id int PRIMARY KEY, owner text, note text);
        GRANT SELECT ON notes TO authenticated""")
    return app_db


def received(db, docs, sub):
    return [d["record"]["id"] for d in docs if sub in recipients(db, d)]


def insert(db, *ids, owner="bob"):
    for i in ids:
        db.execute("INSERT INTO notes VALUES (%s, %s, 'x')", (i, owner))


def test_rls_enabled_after_subscribing(notes, slot):
    sub = subscribe_as(notes, "n", "notes", ANN)
    insert(notes, 1)
    notes.execute("CREATE POLICY own ON notes FOR SELECT USING (owner = auth.jwt() ->> 'name')")
    notes.execute("ALTER TABLE notes ENABLE ROW LEVEL SECURITY")
    insert(notes, 2)
    insert(notes, 3, owner="ann")
    assert received(notes, rows(slot.get()), sub) == [1, 3]


def test_force_after_subscribing(notes, slot):
    notes.execute("""
        CREATE ROLE rt_notes_owner NOLOGIN; ALTER TABLE notes OWNER TO rt_notes_owner;
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY nothing ON notes FOR SELECT USING (false)""")
    try:
        sub = subscribe_as(notes, "n", "notes", {"role": "rt_notes_owner"})
        insert(notes, 1)
        notes.execute("ALTER TABLE notes FORCE ROW LEVEL SECURITY")
        insert(notes, 2)
        notes.execute("ALTER TABLE notes NO FORCE ROW LEVEL SECURITY")
        insert(notes, 3)
        assert received(notes, rows(slot.get()), sub) == [1, 3]
    finally:
        notes.execute("DROP TABLE notes; DROP ROLE rt_notes_owner")


def test_revoke_after_subscribing_ends_the_subscription(notes, slot):
    sub = subscribe_as(notes, "n", "notes", ANN)
    other = subscribe_as(notes, "n", "notes", {"role": "postgres"})
    insert(notes, 1)
    notes.execute("REVOKE SELECT ON notes FROM authenticated")
    insert(notes, 2)
    notes.execute("GRANT SELECT ON notes TO authenticated")
    insert(notes, 3)
    docs = rows(slot.get())
    assert received(notes, docs, sub) == [1], "nothing after the REVOKE, even once granted back"
    assert [failed_of(d) for d in docs] == [{}, {sub: "permission denied for table notes"}, {}]
    assert received(notes, docs, other) == [1, 2, 3]


def test_a_new_column_without_grant_is_not_sent(notes, slot):
    notes.execute("REVOKE SELECT ON notes FROM authenticated; "
                  "GRANT SELECT (id, owner, note) ON notes TO authenticated")
    sub = subscribe_as(notes, "n", "notes", ANN)
    insert(notes, 1)
    notes.execute("ALTER TABLE notes ADD COLUMN salary int DEFAULT 100")
    insert(notes, 2)
    notes.execute("GRANT SELECT (salary) ON notes TO authenticated")
    insert(notes, 3)
    docs = rows(slot.get())
    assert [recipients(notes, d)[sub] for d in docs] == [
        ["id", "note", "owner"], ["id", "note", "owner"], ["id", "note", "owner", "salary"]]


def test_a_policy_changed_mid_stream(notes, slot):
    notes.execute("""
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON notes FOR SELECT USING (owner = auth.jwt() ->> 'name')""")
    sub = subscribe_as(notes, "n", "notes", ANN)
    insert(notes, 1, owner="ann")
    insert(notes, 2, owner="bob")
    notes.execute("ALTER POLICY own ON notes USING (owner <> auth.jwt() ->> 'name')")
    insert(notes, 3, owner="ann")
    insert(notes, 4, owner="bob")
    notes.execute("DROP POLICY own ON notes")
    insert(notes, 5, owner="bob")
    notes.execute("CREATE POLICY everything ON notes FOR SELECT USING (true)")
    insert(notes, 6, owner="bob")
    assert received(notes, rows(slot.get()), sub) == [1, 4, 6]


def test_changes_in_the_transaction_of_the_catalog_change(notes, slot):
    sub = subscribe_as(notes, "n", "notes", ANN)
    notes.execute("""BEGIN;
        INSERT INTO notes VALUES (1, 'bob', 'x');
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        INSERT INTO notes VALUES (2, 'bob', 'x');
        CREATE POLICY bobs ON notes FOR SELECT USING (owner = 'bob');
        INSERT INTO notes VALUES (3, 'bob', 'x');
        COMMIT""")
    assert received(notes, rows(slot.get()), sub) == [1, 3]


def test_role_membership_and_bypassrls_changes(notes, slot):
    notes.execute("""
        CREATE ROLE rt_editors NOLOGIN; CREATE ROLE rt_ed NOLOGIN;
        GRANT SELECT ON notes TO rt_ed;
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY editors ON notes FOR SELECT TO rt_editors USING (true)""")
    try:
        sub = subscribe_as(notes, "n", "notes", {"role": "rt_ed"})
        insert(notes, 1)
        notes.execute("GRANT rt_editors TO rt_ed")
        insert(notes, 2)
        notes.execute("REVOKE rt_editors FROM rt_ed")
        insert(notes, 3)
        notes.execute("ALTER ROLE rt_ed BYPASSRLS")
        insert(notes, 4)
        notes.execute("ALTER ROLE rt_ed NOBYPASSRLS")
        insert(notes, 5)
        assert received(notes, rows(slot.get()), sub) == [2, 4]
    finally:
        notes.execute("DROP TABLE notes; DROP ROLE rt_ed, rt_editors")


def test_a_policy_function_replaced_mid_stream(notes, slot):
    notes.execute("""
        CREATE FUNCTION visible_owner() RETURNS text LANGUAGE sql STABLE AS $$ SELECT 'ann' $$;
        ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
        CREATE POLICY p ON notes FOR SELECT USING (owner = visible_owner())""")
    sub = subscribe_as(notes, "n", "notes", ANN)
    insert(notes, 1, owner="ann")
    insert(notes, 2, owner="bob")
    notes.execute("CREATE OR REPLACE FUNCTION visible_owner() RETURNS text LANGUAGE sql STABLE "
                  "AS $$ SELECT 'bob' $$")
    insert(notes, 3, owner="ann")
    insert(notes, 4, owner="bob")
    docs = rows(slot.get())
    assert all("checks" not in d for d in docs), "an inlined SQL function is compiled"
    assert received(notes, docs, sub) == [1, 4]


def test_the_rules_hold_across_sessions(notes, slot):
    sub = subscribe_as(notes, "n", "notes", ANN)
    insert(notes, 1)
    notes.execute("ALTER TABLE notes ENABLE ROW LEVEL SECURITY")
    first = rows(slot.get())
    insert(notes, 2)
    notes.execute("CREATE POLICY all_rows ON notes FOR SELECT USING (true)")
    insert(notes, 3)
    assert received(notes, first + rows(slot.get()), sub) == [1, 3]
