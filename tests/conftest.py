"""Fixtures shared by every pytest suite: a Postgres server for the whole session, a
fresh database (with the pg_realtime extension) per test, the roles client tokens name,
relays that are always stopped when their test ends, and the protocol version."""
import os
import sys
from contextlib import closing

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from support.pg import Database, PgServer  # noqa: E402
from support.phoenix import VSNS  # noqa: E402
from support.relay import Relay  # noqa: E402
from support.supabase_app import API_ROLES, AUTH_SCHEMA  # noqa: E402

TEMPLATE = "rt_template"


@pytest.fixture(scope="session")
def pg_server():
    server = PgServer(dsn=os.environ.get("REALTIME_TEST_DSN")).start()
    with closing(server.connect("postgres")) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        cur.execute(f'CREATE DATABASE "{TEMPLATE}"')
    with closing(server.connect(TEMPLATE)) as conn, conn.cursor() as cur:
        cur.execute("CREATE EXTENSION pg_realtime")
    yield server
    with closing(server.connect("postgres")) as conn, conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
    server.destroy()


@pytest.fixture
def db(pg_server):
    database = Database(pg_server, template=TEMPLATE)
    yield database
    database.drop()


@pytest.fixture
def app_db(db, client_roles):
    """A test database as a Supabase app has it: the API roles and the auth schema."""
    db.execute(AUTH_SCHEMA)
    return db


@pytest.fixture
def slot(db):
    """A replication slot name of this test's own (slots are per Postgres server)."""
    return "rt_" + db.name


@pytest.fixture(scope="session")
def client_roles(pg_server):
    """The roles Supabase tokens carry (anon, authenticated, and service_role, which
    bypasses row level security): roles are per server, so they are made once, and each
    test database grants them what its tables need."""
    with closing(pg_server.connect("postgres")) as conn, conn.cursor() as cur:
        cur.execute(API_ROLES)
    return ("anon", "authenticated", "service_role")


@pytest.fixture(params=VSNS, ids=lambda v: f"vsn{v[0]}")
def vsn(request):
    """Each test using it runs once per protocol version."""
    return request.param


@pytest.fixture
def relay_factory(request):
    """relay_factory(db_dsn=..., node_id=..., args=[...]) starts a relay; all are stopped
    (killed if need be) when the test ends, and their logs are shown if it failed."""
    relays = []
    request.node._relays = relays

    def start(*, start=True, **kwargs):
        r = Relay(**kwargs)
        relays.append(r)
        return r.start() if start else r

    yield start
    errors = []
    for r in relays:
        try:
            r.stop()  # kills it if SIGTERM is not enough, then says so
        except AssertionError as exc:
            errors.append(exc)
    if not errors and not getattr(request.node, "_relay_test_failed", False):
        for r in relays:
            r.remove_log()  # a failed test keeps them (their tails are in its report)
    if errors:
        raise errors[0]


@pytest.fixture
def relay(relay_factory):
    """A relay without a database: broadcast and presence only."""
    return relay_factory()


@pytest.fixture
def pg_relay(relay_factory, db):
    """A relay streaming the test database's slot (it holds the slot when returned)."""
    return relay_factory(db_dsn=db.dsn).wait_slot()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        item._relay_test_failed = True
    if report.when == "call" and report.failed and "relay_factory" in item.fixturenames:
        factory_relays = getattr(item, "_relays", None)
        if factory_relays:
            for r in factory_relays:
                report.sections.append((f"relay {r.node_id} log", r.log_text()[-4000:]))
