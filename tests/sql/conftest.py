"""Fixtures of the extension's SQL tests: Supabase's API roles (cluster-wide, made once)
and, per test database, the Supabase-style auth schema that apps have and that the
extension does not ship (auth.uid(), auth.role(), auth.jwt())."""
import pytest

from plugin.helpers import Slot

API_ROLES = """
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN BYPASSRLS;
    END IF;
END $$;
"""

# Supabase's definitions (GoTrue's migrations), for the policies of its documentation.
AUTH_SCHEMA = """
CREATE SCHEMA auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid $$;
CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text $$;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                    nullif(current_setting('request.jwt.claims', true), ''))::jsonb $$;
"""


@pytest.fixture(scope="session")
def api_roles(pg_server):
    conn = pg_server.connect("postgres")
    try:
        with conn.cursor() as cur:
            cur.execute(API_ROLES)
    finally:
        conn.close()


@pytest.fixture
def app_db(db, api_roles):
    """A test database as a Supabase app has it: API roles and the auth schema."""
    db.execute(AUTH_SCHEMA)
    return db


@pytest.fixture
def slot(app_db):
    return Slot(app_db)
