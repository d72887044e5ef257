#!/usr/bin/python3
"""Decoding benchmark: rows/s through pg_realtime with 0, 1 000 and 10 000 subscriptions,
wal2json (format-version 2, no filtering) and test_decoding, on the same WAL.

Method. pg_realtime matches each change against the subscriptions of its commit time
(they are part of the WAL it decodes), so the three subscription counts cannot be had by
editing realtime.subscription between runs. Instead three databases are made alike:
the same table and the same workload, with 0, 1 000 or 10 000 subscriptions made before
any slot exists. Every slot is created before the workloads run, so every slot reads the
very same WAL (all three workloads) and decodes one database's rows. wal2json and
test_decoding read from the first database. Each slot is timed with
pg_logical_slot_peek_changes (which leaves it where it was), round robin over the
slots, best of 5 (BENCH_REPEATS).

Each pg_realtime session first reads realtime.subscription and compiles its index,
whatever the length of the WAL it then decodes. That cost is measured apart, on slots
created after the workloads that decode one row, and the steady rate is reported
beside the end-to-end one.

Subscriptions are equality filters on one column; about 1% of the rows match one of
them. The 10 000 subscriptions hold the 1 000 of the middle variant plus 9 000 on
values no row has, so the same rows match.

Row level security (issue 11), compiled policies: two more databases hold the same rows
with a user_id (uuid) column and 10 000 subscriptions of distinct users (role
authenticated, claims sub = their uuid), 1 000 of which own rows (about 1% of the rows
match): "users_filters" without row level security, each subscription filtering
user_id=eq.<its uuid>; "users_rls" with row level security and the policy
auth.uid() = user_id (Supabase's auth.uid()), no filter. The same rows reach the same
subscribers; the target is the policy within 15% of the filters.

Usage: /usr/bin/python3 bench/decode_bench.py [--output PATH]
  BENCH_SIZE          rows per workload: a number, or tiny (2 000), small (200 000),
                      full (1 000 000, the published run); default 200000
  BENCH_DECODE_ROWS   rows per workload, overriding BENCH_SIZE
  BENCH_REPEATS       timings per variant, the best is kept (default 5)
  REALTIME_TEST_DSN   use that server instead of starting one (superuser, wal_level=logical)
Writes bench/results/decode.json (BENCH_RESULTS_DIR) by default and prints a table.
"""
import argparse
import json
import os
import platform
import sys
import time
from contextlib import closing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common as C  # noqa: E402
from support.pg import PgServer  # noqa: E402
from support.supabase_app import API_ROLES, AUTH_SCHEMA  # noqa: E402

BATCH = 1000               # rows per transaction
REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))  # timings per slot, the best is kept
SUBSCRIPTION_COUNTS = (0, 1000, 10000)
ABSENT_BASE = 10 ** 12     # account values no row has
USERS = 10000              # subscribers of the row level security pair
RLS_VARIANTS = ("users_filters", "users_rls")

TABLE = """CREATE TABLE events (
    id         bigint PRIMARY KEY,
    account    bigint NOT NULL,
    kind       text NOT NULL,
    amount     numeric(12, 2) NOT NULL,
    created_at timestamptz NOT NULL,
    note       text)"""

# Deterministic rows: account i % accounts, so each account appears size/accounts times.
WORKLOAD = """INSERT INTO events
    SELECT i, i %% %(accounts)s, (ARRAY['deposit','withdrawal','fee','refund'])[1 + i %% 4],
           (i %% 100000) / 100.0, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second',
           'note for event ' || i || ' of the decoding benchmark'
    FROM generate_series(%(first)s, %(last)s) i"""


# The row level security pair: the same rows, with the account as a uuid user_id.
RLS_TABLE = TABLE.replace("note       text)", "note       text,\n    user_id    uuid NOT NULL)")
RLS_WORKLOAD = WORKLOAD.replace("FROM generate_series", ",\n           "
                                "('00000000-0000-0000-0000-' || lpad(to_hex(i %% %(accounts)s), 12, '0'))::uuid\n"
                                "    FROM generate_series")
AUTH_UID = API_ROLES + AUTH_SCHEMA + "GRANT SELECT ON events TO authenticated"
USER_UUID = "('00000000-0000-0000-0000-' || lpad(to_hex(%s), 12, '0'))"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=os.path.join(C.RESULTS_DIR, "decode.json"),
                        help="where to write the JSON results")
    return parser.parse_args()


NAMED_SIZES = {"tiny": 2000, "small": 200000, "full": 1000000}


def rows_wanted():
    if os.environ.get("BENCH_DECODE_ROWS"):
        return int(os.environ["BENCH_DECODE_ROWS"])
    size = os.environ.get("BENCH_SIZE", "200000")
    return NAMED_SIZES[size] if size in NAMED_SIZES else int(size)


def backend_cpu_ns(pid):
    """CPU time the backend has run, in ns (/proc/PID/schedstat), if it runs on this
    machine (a remote server's pid may name some other local process)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            if b"postgres" not in f.read():
                return None
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class Bench:
    def __init__(self, server, size):
        self.server = server
        self.size = size
        # About 1% of the rows match: `present` accounts (1 000 from 200 000 rows up)
        # out of 100 times as many, each appearing size / accounts times.
        self.present = max(1, min(1000, size // 200))
        self.accounts = 100 * self.present
        self.databases = {count: f"rt_decode_bench_{count}" for count in SUBSCRIPTION_COUNTS}
        self.rls_databases = {variant: f"rt_decode_bench_{variant}" for variant in RLS_VARIANTS}
        self.slots = []  # (variant name, database, slot, plugin, options)
        self.tail_slots = []  # the same, for the session start measurement

    def connect(self, dbname):
        return self.server.connect(dbname)

    def execute(self, dbname, sql, params=None):
        with closing(self.connect(dbname)) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None

    # -- setup -------------------------------------------------------------------
    def all_databases(self):
        return list(self.databases.values()) + list(self.rls_databases.values())

    def create_databases(self):
        for count, name in self.databases.items():
            self.drop_database(name)
            self.execute("postgres", f'CREATE DATABASE "{name}"')
            self.execute(name, "CREATE EXTENSION pg_realtime")
            self.execute(name, TABLE)
            self.subscribe(name, count)
        for variant, name in self.rls_databases.items():
            self.drop_database(name)
            self.execute("postgres", f'CREATE DATABASE "{name}"')
            self.execute(name, "CREATE EXTENSION pg_realtime")
            self.execute(name, RLS_TABLE)
            self.execute(name, AUTH_UID)
            self.subscribe_users(name, variant == "users_rls")

    def subscribe_users(self, dbname, rls):
        """USERS subscribers of distinct users, `present` of them owning rows: by filter,
        or by the policy auth.uid() = user_id."""
        if rls:
            self.execute(dbname, "ALTER TABLE events ENABLE ROW LEVEL SECURITY; "
                                 "CREATE POLICY own ON events FOR SELECT TO authenticated "
                                 "USING (auth.uid() = user_id)")
        user = f"CASE WHEN i < %s THEN {USER_UUID % 'i'} ELSE {USER_UUID % '%s + i'} END"
        self.execute(dbname, f"""SELECT realtime.subscribe('node-' || (i %% 3), 'events'::regclass,
                                     '*', CASE WHEN %s THEN NULL ELSE 'user_id=eq.' || {user} END,
                                     jsonb_build_object('role', 'authenticated', 'sub', {user}))
                                 FROM generate_series(0, %s) i""",
                     (rls, self.present, ABSENT_BASE, self.present, ABSENT_BASE, USERS - 1))

    def subscribe(self, dbname, count):
        """count subscriptions: `present` on accounts rows have, the rest on absent ones."""
        present = min(count, self.present)
        if present:
            self.execute(dbname, """SELECT realtime.subscribe('node-' || (i %% 3), 'events'::regclass,
                                        '*', 'account=eq.' || i)
                                    FROM generate_series(0, %s) i""", (present - 1,))
        if count > present:
            self.execute(dbname, """SELECT realtime.subscribe('node-' || (i %% 3), 'events'::regclass,
                                        '*', 'account=eq.' || (%s + i))
                                    FROM generate_series(1, %s) i""", (ABSENT_BASE, count - present))

    def create_slots(self):
        for count, name in self.databases.items():
            self.add_slot(f"pg_realtime_{count}_subs", name, f"bench_rt_{count}", "pg_realtime", [])
        for variant, name in self.rls_databases.items():
            self.add_slot(f"pg_realtime_{variant}", name, f"bench_rt_{variant}", "pg_realtime", [])
        first = self.databases[SUBSCRIPTION_COUNTS[0]]
        self.add_slot("wal2json", first, "bench_wal2json", "wal2json", ["format-version", "2"])
        self.add_slot("test_decoding", first, "bench_test_decoding", "test_decoding", [])

    def add_slot(self, variant, dbname, slot, plugin, options, tail=False):
        self.execute(dbname, "SELECT pg_create_logical_replication_slot(%s, %s)", (slot, plugin))
        (self.tail_slots if tail else self.slots).append((variant, dbname, slot, plugin, options))

    def create_tail(self):
        """Slots made after the workloads, followed by one row per database: decoding
        that costs what a session pays whatever its length (reading realtime.subscription,
        compiling the index) plus one row."""
        for count, name in self.databases.items():
            self.add_slot(f"pg_realtime_{count}_subs", name, f"bench_rt_{count}_tail", "pg_realtime",
                          [], tail=True)
        for variant, name in self.rls_databases.items():
            self.add_slot(f"pg_realtime_{variant}", name, f"bench_rt_{variant}_tail", "pg_realtime",
                          [], tail=True)
        for name in self.all_databases():
            self.execute(name, self.workload(name), {"accounts": self.accounts,
                                                     "first": self.size + 1, "last": self.size + 1})

    def workload(self, dbname):
        return RLS_WORKLOAD if dbname in self.rls_databases.values() else WORKLOAD

    def run_workloads(self):
        for name in self.all_databases():
            with closing(self.connect(name)) as conn, conn.cursor() as cur:
                for first in range(1, self.size + 1, BATCH):
                    last = min(first + BATCH - 1, self.size)
                    cur.execute(self.workload(name),
                                {"accounts": self.accounts, "first": first, "last": last})
        self.execute("postgres", "CHECKPOINT")

    # -- measurement -------------------------------------------------------------
    def decode(self, conn, slot, options):
        """Wall seconds and CPU seconds (of the backend, None if it cannot be read) to
        decode the slot's pending WAL, and the number of documents."""
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
            cpu_before = backend_cpu_ns(pid)
            started = time.perf_counter()
            cur.execute("SELECT count(*) FROM pg_logical_slot_peek_changes(%s, NULL, NULL, "
                        "VARIADIC %s::text[])", (slot, options))
            documents = cur.fetchone()[0]
            wall = time.perf_counter() - started
            cpu_after = backend_cpu_ns(pid)
            cpu = (cpu_after - cpu_before) / 1e9 if cpu_before is not None and cpu_after else None
            return wall, cpu, documents

    def measure(self, slots):
        """Round robin over the slots, so that a busy moment of the machine does not
        fall on one variant only; the best time of each is kept. Each slot is read by
        one connection, as a consumer polling it would (its backend stays warm)."""
        timings = {variant: [] for variant, *_ in slots}
        cpu_timings = {variant: [] for variant, *_ in slots}
        documents = {}
        conns = {variant: self.connect(dbname) for variant, dbname, *_ in slots}
        try:
            for _ in range(REPEATS):
                for variant, dbname, slot, plugin, options in slots:
                    wall, cpu, documents[variant] = self.decode(conns[variant], slot, options)
                    timings[variant].append(wall)
                    if cpu is not None:
                        cpu_timings[variant].append(cpu)
        finally:
            for conn in conns.values():
                conn.close()
        results = {}
        for variant, dbname, slot, plugin, options in slots:
            best = min(timings[variant])
            cpu = min(cpu_timings[variant]) if cpu_timings[variant] else None
            results[variant] = {
                "plugin": plugin, "options": options, "rows": self.size,
                "documents": documents[variant], "seconds": round(best, 4),
                "all_seconds": [round(t, 4) for t in timings[variant]],
                "rows_per_second": round(self.size / best),
                "cpu_seconds": round(cpu, 4) if cpu else None,
                "rows_per_cpu_second": round(self.size / cpu) if cpu else None,
            }
        return results

    def drop_database(self, name):
        rows = self.execute("postgres", "SELECT slot_name FROM pg_replication_slots WHERE database = %s",
                            (name,))
        for (slot,) in rows:
            self.execute("postgres", "SELECT pg_drop_replication_slot(%s)", (slot,))
        self.execute("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def cleanup(self):
        for name in self.all_databases():
            self.drop_database(name)


def add_session_start(results, tails, size):
    """Splits each pg_realtime figure into what a session pays once (the tail slot's
    decoding: loading the subscriptions and compiling the index, plus one row) and the
    rest, its steady rate."""
    for variant, tail in tails.items():
        r = results[variant]
        r["session_start_seconds"] = tail["seconds"]
        r["session_start_cpu_seconds"] = tail["cpu_seconds"]
        on_cpu = bool(r["cpu_seconds"] and tail["cpu_seconds"])
        steady = (r["cpu_seconds"] - tail["cpu_seconds"]) if on_cpu else r["seconds"] - tail["seconds"]
        r["steady_measured_on"] = "cpu" if on_cpu else "wall"
        r["steady_rows_per_second"] = round(size / steady) if steady > 0 else None


def check_targets(results):
    """The targets, on CPU time of the decoding backend when it could be read (this is
    what the plugin changes, and it does not move with other load on the machine), else
    on wall time."""
    key = "rows_per_cpu_second" if all(r["rows_per_cpu_second"] for r in results.values()) \
        else "rows_per_second"
    zero = results["pg_realtime_0_subs"][key]
    ten_k = results["pg_realtime_10000_subs"][key]
    wal2json = results["wal2json"][key]
    cost = (zero / ten_k) - 1.0 if ten_k else None
    steady_zero = results["pg_realtime_0_subs"].get("steady_rows_per_second")
    steady_ten_k = results["pg_realtime_10000_subs"].get("steady_rows_per_second")
    steady_cost = (steady_zero / steady_ten_k) - 1.0 if steady_zero and steady_ten_k else None
    filters = results["pg_realtime_users_filters"][key]
    rls = results["pg_realtime_users_rls"][key]
    return {
        "measured_on": key,
        # Compiled row level security (auth.uid() = user_id, 10 000 users) against the
        # same subscribers as equality filters on the same rows.
        "rls_10k_users_vs_filters": round(rls / filters, 3) if filters else None,
        "rls_10k_users_within_15_percent_of_filters": bool(filters) and rls >= 0.85 * filters,
        "pg_realtime_10k_vs_wal2json": round(ten_k / wal2json, 3) if wal2json else None,
        "pg_realtime_10k_at_least_wal2json": ten_k >= wal2json,
        "cost_of_10k_subscriptions_over_0": round(cost, 4) if cost is not None else None,
        "cost_of_10k_subscriptions_at_most_10_percent": cost is not None and cost <= 0.10,
        # The same without what a session pays once (see add_session_start).
        "steady_cost_of_10k_subscriptions_over_0": round(steady_cost, 4)
        if steady_cost is not None else None,
        "steady_cost_of_10k_subscriptions_at_most_10_percent":
            steady_cost is not None and steady_cost <= 0.10,
    }


def print_table(results, targets, size):
    print(f"\nDecoding {size} row inserts (same WAL for every variant), best of {REPEATS}:\n")
    print(f"{'variant':<26}{'documents':>10}{'seconds':>10}{'rows/s':>12}{'cpu s':>9}{'rows/cpu s':>12}")
    for variant, r in results.items():
        cpu = f"{r['cpu_seconds']:>9.3f}{r['rows_per_cpu_second']:>12,}" if r["cpu_seconds"] else ""
        print(f"{variant:<26}{r['documents']:>10}{r['seconds']:>10.3f}{r['rows_per_second']:>12,}{cpu}")
    print(f"\ntargets measured on {targets['measured_on']}:")
    print(f"pg_realtime@10k / wal2json:      {targets['pg_realtime_10k_vs_wal2json']}"
          f"  (target >= 1: {'met' if targets['pg_realtime_10k_at_least_wal2json'] else 'MISSED'})")
    cost = targets["cost_of_10k_subscriptions_over_0"]
    print(f"cost of 10k subscriptions vs 0:  {cost:+.1%}"
          f"  (target <= 10%: {'met' if targets['cost_of_10k_subscriptions_at_most_10_percent'] else 'MISSED'})")
    print(f"rls auth.uid() = user_id, 10k users / the same as filters: {targets['rls_10k_users_vs_filters']}"
          f"  (target >= 0.85: {'met' if targets['rls_10k_users_within_15_percent_of_filters'] else 'MISSED'})")
    print("\npg_realtime per session (once per pg_logical_slot_*_changes call or walsender start)"
          " and steady rate:")
    for variant, r in results.items():
        if "session_start_seconds" in r:
            cpu = r["session_start_cpu_seconds"]
            print(f"  {variant:<24} session start {r['session_start_seconds'] * 1000:7.1f} ms"
                  + (f" ({cpu * 1000:.1f} ms cpu)" if cpu else "")
                  + f"   steady {r['steady_rows_per_second'] or 0:>12,} rows/s")
    steady = targets["steady_cost_of_10k_subscriptions_over_0"]
    if steady is not None:
        print(f"  steady cost of 10k subscriptions vs 0: {steady:+.1%}")


def main():
    args = parse_args()
    size = rows_wanted()
    dsn = os.environ.get("REALTIME_TEST_DSN")
    server = PgServer(dsn=dsn).start()
    bench = Bench(server, size)
    try:
        with closing(server.connect("postgres")) as conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            pg_version = cur.fetchone()[0]
        bench.create_databases()
        bench.create_slots()
        bench.run_workloads()
        bench.create_tail()
        results = bench.measure(bench.slots)
        add_session_start(results, bench.measure(bench.tail_slots), size)
    finally:
        bench.cleanup()
        if not dsn:
            server.destroy()

    matched = results["pg_realtime_1000_subs"]["documents"]
    targets = check_targets(results)
    report = {
        "benchmark": "decode",
        "rows": size,
        "rows_per_transaction": BATCH,
        "table_columns": 6,
        "subscriptions": {"filter": "account=eq.<value>", "matching_values": bench.present,
                          "absent_values_in_10k": 10000 - bench.present,
                          "users_rls": {"policy": "auth.uid() = user_id", "users": USERS,
                                        "owning_rows": bench.present},
                          "users_filters": {"filter": "user_id=eq.<uuid>", "users": USERS}},
        "matched_fraction": round(matched / size, 4) if size else None,
        "repeats": REPEATS,
        "results": results,
        "targets": targets,
        "machine": C.machine_info(),
        "versions": {"postgres": pg_version,
                     "wal2json": C.package_version("postgresql-15-wal2json"),
                     "python": platform.python_version()},
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print_table(results, targets, size)
    print(f"\nmatched fraction: {report['matched_fraction']}; results in {args.output}")


if __name__ == "__main__":
    main()
