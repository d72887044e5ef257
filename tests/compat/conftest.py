"""Fixtures of the compatibility suite: a database holding Supabase's test table, with a
relay streaming it."""
import pytest

from .helpers import TEST_TABLE


@pytest.fixture
def test_db(db, client_roles):
    """The test database with the table Supabase's channel tests stream, `public.test`."""
    db.execute(TEST_TABLE)
    return db


@pytest.fixture
def cdc(test_db, pg_relay):
    """(database, relay holding its slot) for Postgres Changes."""
    return test_db, pg_relay
