"""Fixtures of the relay's tests: the protocol version, and the database roles that
client tokens name."""
from contextlib import closing

import pytest

from support.phoenix import VSNS


@pytest.fixture(params=VSNS, ids=lambda v: f"vsn{v[0]}")
def vsn(request):
    """Each test using it runs once per protocol version."""
    return request.param


@pytest.fixture(scope="session")
def client_roles(pg_server):
    """The roles Supabase tokens carry (anon, authenticated, and service_role, which
    bypasses row level security): roles are per server, so they are made once, and each
    test database grants them what its tables need."""
    roles = {"anon": "NOLOGIN", "authenticated": "NOLOGIN", "service_role": "NOLOGIN BYPASSRLS"}
    with closing(pg_server.connect("postgres")) as conn, conn.cursor() as cur:
        for role, options in roles.items():
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE ROLE {role} {options}")
    return tuple(roles)
