"""Whole-schema bindings ({schema: 'public'} with no table, or table '*'): one subscription
for every table of the schema in the publication supabase_realtime (every table when it
is FOR ALL TABLES, or lists the schema), tables created later included, each checked for
the user as a binding naming it would be. A table subscribed by name is delivered whether
the publication lists it or not."""
import pytest

from .helpers import failed_of, recipients, rows, subscribe, subscribe_as, subscribe_schema

ANN = {"role": "authenticated", "name": "ann"}


@pytest.fixture
def tables(app_db):
    app_db.execute("""
        CREATE TABLE listed (id int PRIMARY KEY, owner text);
        CREATE TABLE unlisted (id int PRIMARY KEY, owner text);
        GRANT SELECT ON listed, unlisted TO authenticated;
        ALTER PUBLICATION supabase_realtime ADD TABLE listed""")
    return app_db


def delivered(db, docs, sub):
    return [(d["table"], d["record"]["id"]) for d in docs if sub in recipients(db, d)]


def test_the_extension_creates_the_publication(app_db):
    assert app_db.scalar("SELECT count(*) FROM pg_publication WHERE pubname = 'supabase_realtime'") == 1


def test_a_schema_binding_covers_the_published_tables(tables, slot):
    sub = subscribe_schema(tables, "n", "public", claims=ANN)
    by_name = subscribe_as(tables, "n", "unlisted", ANN)
    tables.execute("INSERT INTO listed VALUES (1, 'bob'); INSERT INTO unlisted VALUES (1, 'bob')")
    tables.execute("ALTER PUBLICATION supabase_realtime ADD TABLE unlisted")
    tables.execute("INSERT INTO unlisted VALUES (2, 'bob')")
    tables.execute("ALTER PUBLICATION supabase_realtime DROP TABLE listed")
    tables.execute("INSERT INTO listed VALUES (2, 'bob')")
    docs = rows(slot.get())
    assert delivered(tables, docs, sub) == [("listed", 1), ("unlisted", 2)]
    assert delivered(tables, docs, by_name) == [("unlisted", 1), ("unlisted", 2)]


def test_tables_created_later_are_covered_and_checked(tables, slot):
    sub = subscribe_schema(tables, "n", "public", claims=ANN)
    tables.execute("""
        CREATE TABLE later (id int PRIMARY KEY, owner text);
        CREATE TABLE hidden (id int PRIMARY KEY, owner text);
        ALTER PUBLICATION supabase_realtime ADD TABLE later, hidden;
        GRANT SELECT ON later TO authenticated;
        ALTER TABLE later ENABLE ROW LEVEL SECURITY;
        CREATE POLICY own ON later FOR SELECT USING (owner = auth.jwt() ->> 'name');
        INSERT INTO later VALUES (1, 'ann'), (2, 'bob');
        INSERT INTO hidden VALUES (1, 'ann');
        INSERT INTO listed VALUES (1, 'bob')""")
    docs = rows(slot.get())
    # hidden is not readable by authenticated: not delivered, and the binding goes on.
    assert delivered(tables, docs, sub) == [("later", 1), ("listed", 1)]
    assert not any(failed_of(d) for d in docs)


def test_for_all_tables_and_schema_publications(tables, slot):
    sub = subscribe_schema(tables, "n", "public", claims=ANN)
    tables.execute("DROP PUBLICATION supabase_realtime; "
                   "CREATE PUBLICATION supabase_realtime FOR ALL TABLES")
    tables.execute("INSERT INTO unlisted VALUES (1, 'x')")
    tables.execute("DROP PUBLICATION supabase_realtime; "
                   "CREATE PUBLICATION supabase_realtime FOR TABLES IN SCHEMA public")
    tables.execute("INSERT INTO unlisted VALUES (2, 'x')")
    tables.execute("DROP PUBLICATION supabase_realtime")
    tables.execute("INSERT INTO unlisted VALUES (3, 'x'); INSERT INTO listed VALUES (3, 'x')")
    assert delivered(tables, rows(slot.get()), sub) == [("unlisted", 1), ("unlisted", 2)]


def test_schema_binding_action_select_and_lost_usage(tables, slot):
    tables.execute("ALTER TABLE listed ADD COLUMN note text; CREATE SCHEMA app; "
                   "GRANT USAGE ON SCHEMA app TO authenticated; "
                   "CREATE TABLE app.items (id int PRIMARY KEY, note text); "
                   "GRANT SELECT ON app.items TO authenticated; "
                   "ALTER PUBLICATION supabase_realtime ADD TABLE app.items")
    inserts = subscribe_schema(tables, "n", "public", action="INSERT", claims=ANN, select=["note"])
    app = subscribe_schema(tables, "n", "app", claims=ANN)
    everything = subscribe_schema(tables, "n", "public")
    tables.execute("INSERT INTO listed VALUES (1, 'ann', 'n1'); UPDATE listed SET note = 'n2'")
    tables.execute("INSERT INTO app.items VALUES (1, 'a')")
    tables.execute("REVOKE USAGE ON SCHEMA app FROM authenticated")
    tables.execute("INSERT INTO app.items VALUES (2, 'b')")
    docs = rows(slot.get())
    assert [(d["type"], recipients(tables, d).get(inserts)) for d in docs if d["table"] == "listed"] == [
        ("INSERT", ["id", "note"]), ("UPDATE", None)]
    assert delivered(tables, docs, everything) == [("listed", 1), ("listed", 1)]
    assert delivered(tables, docs, app) == [("items", 1)]
    assert failed_of(docs[-1]) == {app: "permission denied for schema app"}


def test_by_name_bindings_ignore_the_publication(tables, slot):
    sub = subscribe(tables, "n", "unlisted")
    tables.execute("DROP PUBLICATION supabase_realtime")
    tables.execute("INSERT INTO unlisted VALUES (1, 'x')")
    assert [d["targets"] for d in rows(slot.get())] == [{"n": [sub]}]
