"""A throw-away PostgreSQL server for tests and benchmarks.

Owns: initdb into a temporary directory (as the `postgres` user when running as root,
since initdb refuses root), a free loopback port, the settings logical decoding needs,
and `output_plugin_libraries` extended with our plugin when the server has that setting.
`REALTIME_TEST_DSN` replaces all of this with an existing server.
"""
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from contextlib import closing

import psycopg2
import psycopg2.extensions

from .ports import free_port

def _bindir():
    """The Postgres the tests run: PG_BINDIR, else the one PG_CONFIG names (as make does)."""
    if os.environ.get("PG_BINDIR"):
        return os.environ["PG_BINDIR"]
    pg_config = os.environ.get("PG_CONFIG")
    if pg_config:
        return subprocess.run([pg_config, "--bindir"], check=True, capture_output=True,
                              text=True).stdout.strip()
    return "/usr/lib/postgresql/15/bin"


PG_BINDIR = _bindir()
OUTPUT_PLUGINS = ["pgoutput", "test_decoding", "pg_realtime", "wal2json"]


def _as_postgres_user():
    """preexec_fn dropping root to the postgres user (initdb and postgres refuse root)."""
    if os.geteuid() != 0:
        return None
    pw = pwd.getpwnam("postgres")

    def drop():
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    return drop


def wait_until(predicate, timeout=30.0, interval=0.05, what="condition"):
    """Polls predicate until it returns a truthy value, which is returned."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # the condition may not be checkable yet
            last_exc = exc
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}"
                       + (f" (last error: {last_exc!r})" if last_exc else ""))


class PgServer:
    """A local postgres started with initdb, or an external one given by a DSN."""

    def __init__(self, dsn=None, settings=None):
        self.external_dsn = dsn
        self.settings = settings or {}
        self.datadir = None
        self.port = None
        self.proc = None
        self.logfile = None

    # -- lifecycle -------------------------------------------------------------
    def start(self):
        if self.external_dsn:
            self._configure_output_plugins()
            return self
        self.tmp = tempfile.mkdtemp(prefix="pg_realtime_pg_")
        self.datadir = os.path.join(self.tmp, "data")
        self.logfile = os.path.join(self.tmp, "postgres.log")
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.tmp, pw.pw_uid, pw.pw_gid)
        self.port = free_port()
        subprocess.run([os.path.join(PG_BINDIR, "initdb"), "-D", self.datadir, "-U", "postgres",
                        "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       preexec_fn=_as_postgres_user())
        conf = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.tmp}'",
            "wal_level": "logical",
            "max_replication_slots": "64",
            "max_wal_senders": "64",
            "max_connections": "300",
            "fsync": "off",
            "full_page_writes": "off",
            "synchronous_commit": "on",
            "log_min_messages": "warning",
            "log_line_prefix": "'%m [%p] %a '",
        }
        conf.update({k: str(v) for k, v in self.settings.items()})
        with open(os.path.join(self.datadir, "postgresql.conf"), "a") as f:
            for key, value in conf.items():
                f.write(f"{key} = {value}\n")
        self._start_process()
        self._configure_output_plugins()
        return self

    def _start_process(self):
        log = open(self.logfile, "a")
        self.proc = subprocess.Popen([os.path.join(PG_BINDIR, "postgres"), "-D", self.datadir],
                                     stdout=log, stderr=log, preexec_fn=_as_postgres_user())
        log.close()
        wait_until(self._accepts_connections, timeout=60, what="postgres to accept connections")

    def _accepts_connections(self):
        if self.proc and self.proc.poll() is not None:
            raise RuntimeError(f"postgres exited with {self.proc.returncode}; see {self.logfile}:\n"
                               + self.log_tail())
        try:
            psycopg2.connect(self.dsn("postgres"), connect_timeout=2).close()
            return True
        except psycopg2.OperationalError:
            return False

    def _configure_output_plugins(self):
        """Allow our plugin where the server restricts output plugins (PG 15.20+)."""
        with closing(self.connect("postgres")) as conn, conn.cursor() as cur:
            cur.execute("SELECT setting FROM pg_settings WHERE name = 'output_plugin_libraries'")
            row = cur.fetchone()
            if row is None:
                return
            present = [p.strip() for p in row[0].split(",") if p.strip()]
            wanted = present + [p for p in OUTPUT_PLUGINS if p not in present]
            if wanted != present:
                # A list setting: unquoted names, one per element.
                cur.execute("ALTER SYSTEM SET output_plugin_libraries = " + ", ".join(wanted))
                cur.execute("SELECT pg_reload_conf()")
        wait_until(lambda: self._plugins_allowed(), timeout=30, what="output_plugin_libraries reload")

    def _plugins_allowed(self):
        with closing(self.connect("postgres")) as conn, conn.cursor() as cur:
            cur.execute("SHOW output_plugin_libraries")
            return "pg_realtime" in cur.fetchone()[0]

    def stop(self, mode="fast"):
        if self.proc is None:
            return
        sig = {"smart": 15, "fast": 2, "immediate": 3}[mode]
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def restart(self, mode="fast"):
        """Stops and starts the same data directory on the same port."""
        assert not self.external_dsn, "cannot restart an external server"
        self.stop(mode)
        self._start_process()

    def destroy(self):
        self.stop()
        if self.datadir:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- access ----------------------------------------------------------------
    def dsn(self, dbname="postgres"):
        if self.external_dsn:
            params = psycopg2.extensions.parse_dsn(self.external_dsn)
            params["dbname"] = dbname
            return " ".join(f"{k}={v}" for k, v in params.items())
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def connect(self, dbname="postgres", autocommit=True):
        conn = psycopg2.connect(self.dsn(dbname))
        conn.autocommit = autocommit
        return conn

    def log_tail(self, lines=40):
        if not self.logfile or not os.path.exists(self.logfile):
            return ""
        with open(self.logfile, errors="replace") as f:
            return "".join(f.readlines()[-lines:])


class Database:
    """A fresh database with the extension created, dropped (with its slots) afterwards."""

    counter = 0

    def __init__(self, server, template=None):
        Database.counter += 1
        self.server = server
        self.name = f"rt_test_{os.getpid()}_{Database.counter}"
        with closing(server.connect("postgres")) as conn, conn.cursor() as cur:
            if template:
                cur.execute(f'CREATE DATABASE "{self.name}" TEMPLATE "{template}"')
            else:
                cur.execute(f'CREATE DATABASE "{self.name}"')
        self.dsn = server.dsn(self.name)
        self.conn = server.connect(self.name)
        if not template:
            self.execute("CREATE EXTENSION pg_realtime")

    def connect(self, autocommit=True):
        return self.server.connect(self.name, autocommit)

    def execute(self, sql, params=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def scalar(self, sql, params=None):
        rows = self.execute(sql, params)
        return rows[0][0] if rows else None

    def drop(self):
        try:
            self.conn.close()
        except Exception:
            pass
        with closing(self.server.connect("postgres")) as conn, conn.cursor() as cur:
            # Slots keep a database alive; terminate their users, then drop them.
            for _ in range(50):
                cur.execute("SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = %s",
                            (self.name,))
                slots = cur.fetchall()
                if not slots:
                    break
                for slot, pid in slots:
                    if pid:
                        cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
                    try:
                        cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                    except psycopg2.Error:
                        pass
                time.sleep(0.1)
            cur.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
