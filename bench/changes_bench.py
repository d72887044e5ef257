#!/usr/bin/python3
"""Postgres Changes end to end: commit-to-client latency and changes/s delivered, with
one relay and with a three-node cluster.

Method. A local Postgres 15 (fsync off, as in the tests; pinned with the load generator
to BENCH_CLIENT_CPU) holds a table
    bench_changes (id bigserial, user_id int, ts bigint, body text)
that the `anon` role may read. 1 000 subscribers (rt-loadgen latency-watch, Phoenix
vsn 1.0.0) join 100 channels, channel k with the binding
    INSERT on public.bench_changes, filter user_id=eq.k
so there are 1 000 subscriptions over 100 filter values, 10 per value. With three nodes
the subscribers are spread round robin over the nodes (all relays pinned to
BENCH_SERVER_CPU); one of them holds the slot and forwards over the ZeroMQ mesh.

A writer (a PL/pgSQL procedure called once, committing after each transaction) inserts
rows with user_id = row number mod 100 and ts = clock_timestamp() in epoch
microseconds, taken in the INSERT just before the COMMIT:
- latency: one row per transaction at 1 000 changes/s (paced), for BENCH_CHANGES_SECONDS;
  latency = client's CLOCK_REALTIME at receipt - ts (same machine, same clock);
- throughput: 100 rows per transaction as fast as Postgres takes them; delivered
  changes/s = rows / (last record received - writing start); each change goes to the
  10 subscribers of its filter value, so deliveries/s is 10 times that.

The CPU time of the relays, of Postgres (all its processes, the walsender decoding
included), of the load generator and of everything else is recorded over each run.

Row level security (--rls, one node): the same runs with RLS enabled on the table and
one policy for the subscribers' role (anon), in two variants:
- compiled: `auth.role() = 'anon'`, which the plugin decides while decoding;
- checked: `user_id IN (SELECT v FROM public.bench_visible)` (a sub-select over a table
  of the 100 values), which the plugin cannot decide: every change is checked by the slot
  holder with realtime.check_rows on its database pool (its 10 candidates), batched.

Usage: BENCH_SIZE=tiny|small|full /usr/bin/python3 bench/changes_bench.py [--nodes 1,3]
                                                                   [--rls compiled,checked]
  REALTIME_TEST_DSN   use that Postgres (superuser, wal_level=logical) instead of a new one
Writes bench/results/changes.json and prints a table.
"""
import argparse
import os
import sys
import tempfile
import time
from contextlib import closing

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

CLIENTS = 1000
VALUES = 100
TABLE = "bench_changes"

SETUP = f"""
CREATE TABLE public.{TABLE} (id bigserial PRIMARY KEY, user_id int NOT NULL, ts bigint NOT NULL,
                             body text NOT NULL);
GRANT SELECT ON public.{TABLE} TO anon, authenticated;
CREATE PROCEDURE bench_write(n int, rate float8, per_tx int) LANGUAGE plpgsql AS $$
DECLARE
    t0 float8 := extract(epoch FROM clock_timestamp());
    i int := 0;
    k int;
    ahead float8;
BEGIN
    WHILE i < n LOOP
        k := least(per_tx, n - i);
        INSERT INTO public.{TABLE} (user_id, ts, body)
            SELECT (i + j) % {VALUES}, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint,
                   'benchmark row ' || (i + j) || ' of a realtime postgres changes stream'
            FROM generate_series(0, k - 1) j;
        COMMIT;
        i := i + k;
        IF rate > 0 THEN
            ahead := t0 + i / rate - extract(epoch FROM clock_timestamp());
            IF ahead > 0.002 THEN
                PERFORM pg_sleep(ahead);
            END IF;
        END IF;
    END LOOP;
END $$;
"""

# The two row level security variants (see the module's doc); each replaces the other.
RLS_POLICIES = {
    "compiled": "auth.role() = 'anon'",
    "checked": "user_id IN (SELECT v FROM public.bench_visible)",
}
RLS_SETUP = f"""
CREATE SCHEMA IF NOT EXISTS auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text $$;
CREATE TABLE public.bench_visible (v int PRIMARY KEY);
INSERT INTO public.bench_visible SELECT generate_series(0, {VALUES} - 1);
GRANT SELECT ON public.bench_visible TO anon;
ALTER TABLE public.{TABLE} ENABLE ROW LEVEL SECURITY;
"""


def set_rls_policy(pg, variant):
    pg.execute(f"DROP POLICY IF EXISTS bench_rls ON public.{TABLE}")
    pg.execute(f"CREATE POLICY bench_rls ON public.{TABLE} FOR SELECT TO anon USING ({RLS_POLICIES[variant]})")


class BenchPostgres:
    """A Postgres for the changes benchmarks (tests/support/pg.PgServer, or
    REALTIME_TEST_DSN) with a database of our own; destroy() drops everything."""

    def __init__(self, dbname):
        from support.pg import PgServer
        self.external = os.environ.get("REALTIME_TEST_DSN")
        self.server = PgServer(dsn=self.external)
        self.dbname = dbname
        self.version = None

    def start(self):
        self.server.start()
        if not self.external:
            C.pin_tree(self.server.proc.pid, C.CLIENT_CPU)
        with closing(self.server.connect("postgres")) as conn, conn.cursor() as cur:
            cur.execute("SHOW server_version")
            self.version = cur.fetchone()[0]
            for role in ("anon", "authenticated"):
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                if cur.fetchone() is None:
                    cur.execute(f"CREATE ROLE {role} NOLOGIN")
        self.drop_database()
        with closing(self.server.connect("postgres")) as conn, conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{self.dbname}"')
        with closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION pg_realtime")
        return self

    @property
    def dsn(self):
        return self.server.dsn(self.dbname)

    def connect(self):
        return self.server.connect(self.dbname)

    def execute(self, sql, params=None):
        with closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def pids(self):
        """The postmaster (with the children it reaped, e.g. autovacuum workers) and its
        live children (backends, walsenders), when local."""
        if self.external or not self.server.proc:
            return []
        root = self.server.proc.pid
        return [-root] + C.children_of(root)

    def drop_slot(self, slot):
        with closing(self.server.connect("postgres")) as conn, conn.cursor() as cur:
            for _ in range(100):
                cur.execute("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (slot,))
                row = cur.fetchone()
                if row is None:
                    return
                if row[0]:
                    cur.execute("SELECT pg_terminate_backend(%s)", (row[0],))
                    time.sleep(0.1)
                    continue
                try:
                    cur.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                    return
                except Exception:
                    time.sleep(0.1)

    def drop_database(self):
        try:
            with closing(self.server.connect("postgres")) as conn, conn.cursor() as cur:
                cur.execute("SELECT slot_name FROM pg_replication_slots WHERE database = %s", (self.dbname,))
                slots = [r[0] for r in cur.fetchall()]
            for s in slots:
                self.drop_slot(s)
            with closing(self.server.connect("postgres")) as conn, conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        except Exception as exc:  # the server may be gone already
            C.log(f"drop database {self.dbname}: {exc}")

    def destroy(self):
        self.drop_database()
        if not self.external:
            self.server.destroy()


def write_rows(pg, rows, rate, per_tx):
    """CALLs the writer; returns (start, end) in epoch seconds."""
    with closing(pg.connect()) as conn, conn.cursor() as cur:
        start = time.time()
        cur.execute("CALL bench_write(%s, %s, %s)", (rows, rate, per_tx))
        return start, time.time()


def watch(pg, urls, relay_pids, rows, rate, per_tx, timeout, groups=None):
    """One latency-watch run while the writer writes rows; the loadgen JSON plus the
    writer's times and CPU per party (groups: more parties, {name: () -> pids})."""
    binding = ('[{"event":"INSERT","schema":"public","table":"%s","filter":"user_id=eq.{channel}"}]' % TABLE)
    ready = tempfile.mktemp(prefix="bench-changes-ready-")
    box = {}

    def on_ready(p):
        box["trace"] = C.CpuTrace(dict({"relays": lambda: relay_pids, "postgres": pg.pids,
                                        "loadgen": lambda: [p.pid], "driver": lambda: [os.getpid()]},
                                       **(groups or {}))).start()
        box["write"] = write_rows(pg, rows, rate, per_tx)

    try:
        r = C.loadgen(["latency-watch", "--url", ",".join(urls), "--jwt-secret", C.JWT_SECRET,
                       "--clients", CLIENTS, "--channels", VALUES, "--pg-changes", binding,
                       "--ts-field", "ts", "--expect", rows // VALUES, "--duration", timeout,
                       "--connect-timeout", 120, "--heartbeat", 20],
                      ready_file=ready, on_ready=on_ready, timeout=timeout + 300)
    finally:
        if "trace" in box:
            box["trace"].stop()
        if os.path.exists(ready):
            os.unlink(ready)
    r["cpu"] = {"foreign_util": 0.0}
    if "write" in box:
        start, end = box["write"]
        r["write_start_unix_s"], r["write_end_unix_s"] = start, end
        last = (r["watch"].get("last_record_unix_us") or 0) / 1e6
        # from the first row written to the last record received
        r["cpu"] = box["trace"].between(start, max(end, last))
        r["cpu_while_writing"] = box["trace"].between(start, end)
    return r


def summarize(r, rows):
    lat = r.get("latency_us") or {}
    w = r["watch"]
    out = {"subscribers": r["connections"]["joined"], "subscribed": w["subscribed"], "rows": rows,
           "records": w["records"], "records_expected": rows * (CLIENTS // VALUES),
           "expect_met": w["expect_met"],
           "p50_ms": lat.get("p50", 0) / 1000, "p90_ms": lat.get("p90", 0) / 1000,
           "p99_ms": lat.get("p99", 0) / 1000, "p999_ms": lat.get("p999", 0) / 1000,
           "max_ms": lat.get("max", 0) / 1000,
           "cpu": r.get("cpu"), "foreign_util": r["cpu"].get("foreign_util"),
           "tries": r.get("tries"), "disturbed": r.get("disturbed"), "errors": r.get("errors")}
    if "write_start_unix_s" in r:
        start, end = r["write_start_unix_s"], r["write_end_unix_s"]
        out["write_seconds"] = round(end - start, 3)
        out["written_changes_per_s"] = round(rows / (end - start)) if end > start else None
        last = w.get("last_record_unix_us") or 0
        span = last / 1e6 - start
        if span > 0:
            out["delivery_seconds"] = round(span, 3)
            out["delivered_changes_per_s"] = round(rows / span) if w["expect_met"] else None
            out["deliveries_per_s"] = round(w["records"] / span)
        cpu = r["cpu"]
        if w["records"]:
            out["relay_cpu_us_per_change"] = round(cpu.get("relays_cpu_s", 0) * 1e6 / rows, 2)
            out["relay_cpu_us_per_delivery"] = round(cpu.get("relays_cpu_s", 0) * 1e6 / w["records"], 2)
            out["postgres_cpu_us_per_change"] = round(cpu.get("postgres_cpu_s", 0) * 1e6 / rows, 2)
            # which side limited the throughput run: the relays' core, or the client core
            # (load generator + Postgres + this driver)
            client = sum(cpu.get(k, 0) for k in ("loadgen_util", "postgres_util", "driver_util"))
            out["relay_core_util"] = cpu.get("relays_util")
            out["client_core_util"] = round(client, 3)
            out["bound_by"] = "relay core" if (cpu.get("relays_util") or 0) >= 0.85 else \
                "client core" if client >= 0.85 else "neither"
            if out["relay_cpu_us_per_change"]:
                out["projected_changes_per_relay_core_s"] = round(1e6 / out["relay_cpu_us_per_change"])
    return out


def bench_topology(pg, nodes, slot, metrics=None):
    lat_seconds = float(os.environ.get("BENCH_CHANGES_SECONDS", C.by_size(1, 5, 20)))
    lat_rows = int(1000 * lat_seconds) // VALUES * VALUES
    tp_rows = C.by_size(2000, 50000, 200000)
    if nodes == 1:
        servers = C.Relay(db=pg.dsn, slot=slot)
        relays = [servers]
    else:
        servers = C.RelayCluster(nodes, db=pg.dsn, slot=slot)
        relays = servers.relays
    servers.start()
    try:
        holder = servers.wait_slot() if nodes == 1 else servers.holder()
        urls = [r.ws_endpoint() for r in relays]
        pids = [r.pid for r in relays]
        foreign = lambda r: r["cpu"].get("foreign_util", 0.0)  # noqa: E731
        lat = C.quiet_run(f"{nodes} node(s): latency at 1000 changes/s",
                          lambda: watch(pg, urls, pids, lat_rows, 1000, 1, lat_seconds + 60), foreign=foreign)
        tp = C.quiet_run(f"{nodes} node(s): throughput",
                         lambda: watch(pg, urls, pids, tp_rows, 0, 100, 600), foreign=foreign)
        out = {"nodes": nodes, "slot_holder": holder.node_id,
               "latency_at_1000_per_s": summarize(lat, lat_rows),
               "throughput": summarize(tp, tp_rows)}
        if metrics:
            values = holder.metrics()
            out["metrics"] = {k: values.get(k) for k in metrics}
        return out
    finally:
        servers.stop()
        pg.drop_slot(slot)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", default="1,3")
    ap.add_argument("--rls", default="compiled,checked", help="row level security variants (one node); '' for none")
    opts = ap.parse_args()
    C.pin_self()
    pg = BenchPostgres(f"rt_bench_changes_{os.getpid()}")
    results, rls = {}, {}
    try:
        pg.start()
        pg.execute(SETUP)
        for n in [int(x) for x in opts.nodes.split(",") if x]:
            C.log(f"== postgres changes, {n} node(s)")
            results[str(n)] = bench_topology(pg, n, f"rt_bench_{os.getpid()}_{n}")
        variants = [v for v in opts.rls.split(",") if v]
        if variants:
            pg.execute(RLS_SETUP)
        for v in variants:
            C.log(f"== postgres changes, 1 node, row level security: {v}")
            set_rls_policy(pg, v)
            rls[v] = bench_topology(pg, 1, f"rt_bench_{os.getpid()}_rls_{v}",
                                    metrics=("realtime_rls_check_calls_total", "realtime_rls_check_failures_total"))
            rls[v]["policy"] = RLS_POLICIES[v]
    finally:
        C.stop_all()
        pg.destroy()
    one = results.get("1", {}).get("latency_at_1000_per_s")
    targets = {}
    if one:
        targets["commit_to_client_p99_under_10ms_at_1000_per_s"] = {
            "p99_ms": one["p99_ms"], "pass": one["p99_ms"] < 10 and one["expect_met"]}
        targets["issue3_commit_to_client_p50_under_2ms"] = {"p50_ms": one["p50_ms"], "pass": one["p50_ms"] < 2}
    three = results.get("3", {}).get("latency_at_1000_per_s")
    if three:
        targets["three_nodes_p99_under_10ms_at_1000_per_s"] = {"p99_ms": three["p99_ms"],
                                                               "pass": three["p99_ms"] < 10 and three["expect_met"]}
    C.write_result("changes", {
        "subscribers": CLIENTS, "filter_values": VALUES, "table": TABLE,
        "binding": "INSERT on public.bench_changes, filter user_id=eq.<k>, k = channel index",
        "postgres": {"version": pg.version, "fsync": "off" if not pg.external else "as configured",
                     "cpu": C.CLIENT_CPU if not pg.external else None},
        "nodes": results, "rls": rls, "targets": targets})
    rows = []
    for n, d in list(results.items()) + [(f"1, rls {v}", d) for v, d in rls.items()]:
        for kind in ("latency_at_1000_per_s", "throughput"):
            v = d[kind]
            rows.append([n, kind, v["rows"], v["records"], v["expect_met"], v.get("written_changes_per_s"),
                         v.get("delivered_changes_per_s"), v.get("deliveries_per_s"), v["p50_ms"], v["p99_ms"],
                         v["p999_ms"], v.get("relay_cpu_us_per_change"), v["disturbed"]])
    print(f"\nPostgres changes to {CLIENTS} subscribers over {VALUES} filter values")
    C.table(["nodes", "run", "rows", "records", "all in", "written/s", "delivered/s", "deliveries/s", "p50 ms",
             "p99 ms", "p999 ms", "relay us/change", "disturbed"], rows)


if __name__ == "__main__":
    main()
