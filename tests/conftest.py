"""Fixtures shared by every pytest suite: a Postgres server for the whole session and a
fresh database (with the pg_realtime extension) per test."""
import os
import sys

from contextlib import closing

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from support.pg import Database, PgServer  # noqa: E402

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
