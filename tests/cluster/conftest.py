"""Fixtures of the cluster tests: a table to stream."""
import pytest


@pytest.fixture
def items(db, client_roles):
    """The test database with a table `items` the anon role may read."""
    db.execute("CREATE TABLE public.items (id bigserial PRIMARY KEY, note text);"
               "GRANT SELECT ON public.items TO anon, authenticated")
    return db
