"""Fixtures of the cluster tests: database roles for client tokens, a replication slot
name of the test's own (slots are per Postgres server), and a table to stream."""
from contextlib import closing

import pytest


@pytest.fixture(scope="session")
def client_roles(pg_server):
    """The roles Supabase tokens carry: roles are per server, so they are made once."""
    with closing(pg_server.connect("postgres")) as conn, conn.cursor() as cur:
        for role in ("anon", "authenticated"):
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE ROLE {role} NOLOGIN")
    return ("anon", "authenticated")


@pytest.fixture
def slot(db):
    """A replication slot name for this test's relays."""
    return "rt_" + db.name


@pytest.fixture
def items(db, client_roles):
    """The test database with a table `items` the anon role may read."""
    db.execute("CREATE TABLE public.items (id bigserial PRIMARY KEY, note text);"
               "GRANT SELECT ON public.items TO anon, authenticated")
    return db
