#!/usr/bin/python3
"""Row level security, general path: what realtime.check_rows costs, alone (no relay).

The policy is a membership sub-select (Supabase's documented team pattern):
    org_id IN (SELECT m.org_id FROM members m WHERE m.user_id = (SELECT auth.uid()))
with 1 000 subscribers of distinct users (role authenticated), each a member of 3 of 100
organizations. The plugin cannot compile it, so every change of the table lists all
1 000 subscribers as candidates of one check. The documents come from the plugin itself
(a slot read with pg_logical_slot_get_changes); then, on one connection, the checks are
evaluated as the relay would, in a transaction it rolls back:
  - set-based: realtime.check_rows for a batch of documents and all their candidates in
    one call (batches of 1, 20 and 100 changes);
  - per user: the same membership hidden in a SECURITY DEFINER function (so the plugin
    marks the check per_user: one evaluation per candidate with its settings);
  - baseline, Supabase's method as its apply_rls does it, in our own SQL: per change and
    per subscriber, set role and claims, and read the row by primary key under RLS.
Figures: changes checked per second (each against 1 000 candidates), and candidate
checks per second. Wall time on this connection; results are not tests.

Usage: /usr/bin/python3 bench/rls_check_bench.py [--output PATH]
  BENCH_SIZE   tiny | small | full: changes evaluated (20 / 200 / 1 000)
Writes bench/results/rls_check.json (BENCH_RESULTS_DIR) and prints a table.
"""
import argparse
import json
import os
import sys
import time
import uuid
from contextlib import closing

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common as C  # noqa: E402
from support.pg import Database, PgServer  # noqa: E402
from support.supabase_app import API_ROLES, AUTH_SCHEMA  # noqa: E402

CANDIDATES = 1000
ORGS = 100
CHANGES = {"tiny": 20, "small": 200, "full": 1000}[C.SIZE]
BASELINE_CHANGES = {"tiny": 3, "small": 10, "full": 20}[C.SIZE]
PER_USER_CHANGES = {"tiny": 3, "small": 10, "full": 20}[C.SIZE]
SUBSCRIBER_COUNTS = (10, 100, 1000)


def report_target(results, base):
    """The issue's target: the general path (batches of 20, 1 000 subscribers) checks at
    least 100 times the changes per second of Supabase's method."""
    return results["set_based_batch_20"]["changes_per_second"] >= 100 * base

SCHEMA = """
CREATE TABLE members (org_id int, user_id uuid, PRIMARY KEY (user_id, org_id));
CREATE INDEX ON members (org_id);
CREATE TABLE docs (id int PRIMARY KEY, org_id int, body text);
GRANT SELECT ON members, docs TO authenticated;
ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
CREATE FUNCTION is_member(org int) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER AS $$
    SELECT EXISTS (SELECT 1 FROM members WHERE org_id = org AND user_id = (SELECT auth.uid())) $$;
"""
SET_BASED = """CREATE POLICY member ON docs FOR SELECT TO authenticated USING (
    org_id IN (SELECT m.org_id FROM members m WHERE m.user_id = (SELECT auth.uid())))"""
PER_USER = "CREATE POLICY member ON docs FOR SELECT TO authenticated USING (is_member(org_id))"

# Supabase's method (realtime.apply_rls): for each subscriber, set its role and claims
# and run a prepared SELECT of the row by primary key under RLS (prepared once per
# change, as apply_rls prepares walrus_rls_stmt once per role).
BASELINE = """
CREATE FUNCTION baseline_check(row_id int, ids bigint[]) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    s       record;
    visible boolean;
    n       int := 0;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_prepared_statements WHERE name = 'baseline_stmt') THEN
        DEALLOCATE baseline_stmt;
    END IF;
    EXECUTE format('PREPARE baseline_stmt AS SELECT EXISTS (SELECT 1 FROM docs WHERE id = %s)', row_id);
    FOR s IN SELECT claims, claims_role FROM realtime.subscription WHERE id = ANY (ids) LOOP
        PERFORM set_config('role', s.claims_role, true),
                set_config('request.jwt.claims', s.claims::text, true);
        EXECUTE 'EXECUTE baseline_stmt' INTO visible;
        PERFORM set_config('role', NULL, true);
        n := n + visible::int;
    END LOOP;
    RETURN n;
END $$;
"""


def user(i):
    return str(uuid.UUID(int=i + 1))


def setup(db):
    db.execute(API_ROLES)
    db.execute(AUTH_SCHEMA)
    db.execute(SCHEMA)
    db.execute(BASELINE)
    db.execute("INSERT INTO members SELECT (i * 7 + k * 31) %% %s, "
               "('00000000-0000-0000-0000-' || lpad(to_hex(i + 1), 12, '0'))::uuid "
               "FROM generate_series(0, %s) i, generate_series(0, 2) k", (ORGS, CANDIDATES - 1))
    db.execute("SELECT realtime.subscribe('node-a', 'docs', '*', NULL, "
               "jsonb_build_object('role', 'authenticated', 'sub', "
               "('00000000-0000-0000-0000-' || lpad(to_hex(i + 1), 12, '0'))::uuid)) "
               "FROM generate_series(0, %s) i", (CANDIDATES - 1,))


def documents(db, policy, count, first_id):
    """count change documents of docs under policy, as the plugin writes them."""
    db.execute("DROP POLICY IF EXISTS member ON docs")
    db.execute(policy)
    slot = f"rls_check_{first_id}"
    db.execute("SELECT pg_create_logical_replication_slot(%s, 'pg_realtime')", (slot,))
    db.execute("INSERT INTO docs SELECT i, i %% %s, 'body ' || i FROM generate_series(%s, %s) i",
               (ORGS, first_id, first_id + count - 1))
    rows = db.execute("SELECT data FROM pg_logical_slot_get_changes(%s, NULL, NULL)", (slot,))
    db.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
    docs = [json.loads(r[0]) for r in rows]
    return [d for d in docs if d.get("type") == "INSERT"]


def candidates(doc):
    return [i for v in doc["views"] if "check" in v for ids in v["targets"].values() for i in ids]


def check_batch(cur, batch, subscribers):
    """One realtime.check_rows call for a batch of documents (same check), with the
    union of their candidates (here every document has the same 1 000; the first
    `subscribers` of them are taken)."""
    check = batch[0]["checks"][0]
    ids = sorted({i for doc in batch for i in candidates(doc)})[:subscribers]
    cur.execute("SELECT count(*) FILTER (WHERE error IS NULL), count(*) FILTER (WHERE error IS NOT NULL) "
                "FROM realtime.check_rows('public', 'docs', %s, %s, %s, %s, %s)",
                (check["role"], check["quals"], check["per_user"], [d["check_row"] for d in batch],
                 ids))
    return cur.fetchone(), len(ids) * len(batch)


def measure_checks(conn, docs, batch_size, subscribers=CANDIDATES):
    passed = errors = pairs = 0
    started = time.perf_counter()
    with conn.cursor() as cur:
        for first in range(0, len(docs), batch_size):
            (ok, bad), n = check_batch(cur, docs[first:first + batch_size], subscribers)
            passed, errors, pairs = passed + ok, errors + bad, pairs + n
        conn.rollback()
    seconds = time.perf_counter() - started
    return {"changes": len(docs), "batch": batch_size, "candidates_per_change": subscribers,
            "seconds": round(seconds, 4), "changes_per_second": round(len(docs) / seconds, 1),
            "candidate_checks_per_second": round(pairs / seconds), "passed": passed,
            "errors": errors}


def measure_baseline(db, docs, subscribers=CANDIDATES):
    """On a connection of its own: what realtime.check_rows left in a session (its plans
    and settings) must not slow or speed the baseline."""
    ids = sorted(candidates(docs[0]))[:subscribers]
    passed = 0
    with closing(db.connect(autocommit=False)) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        for doc in docs:
            cur.execute("SELECT baseline_check(%s, %s)", (doc["record"]["id"], ids))
            passed += cur.fetchone()[0]
        conn.rollback()
        seconds = time.perf_counter() - started
    return {"changes": len(docs), "candidates_per_change": len(ids), "seconds": round(seconds, 4),
            "changes_per_second": round(len(docs) / seconds, 2),
            "candidate_checks_per_second": round(len(docs) * len(ids) / seconds), "passed": passed}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--output", default=os.path.join(C.RESULTS_DIR, "rls_check.json"))
    args = ap.parse_args()
    server = PgServer(dsn=os.environ.get("REALTIME_TEST_DSN")).start()
    db = None
    try:
        db = Database(server)
        setup(db)
        set_docs = documents(db, SET_BASED, CHANGES, 1)
        with closing(db.connect()) as conn, conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE members")
        per_user_docs = documents(db, PER_USER, PER_USER_CHANGES, 10 ** 6)
        # The baseline reads rows under the table's policy: the membership sub-select again,
        # the same policy the set-based checks evaluate (not the per-user function).
        db.execute("DROP POLICY member ON docs")
        db.execute(SET_BASED)
        assert set_docs and not set_docs[0]["checks"][0]["per_user"]
        assert per_user_docs[0]["checks"][0]["per_user"]
        with closing(db.connect(autocommit=False)) as conn:
            results = {
                "set_based_batch_1": measure_checks(conn, set_docs, 1),
                "set_based_batch_20": measure_checks(conn, set_docs, 20),
                "set_based_batch_100": measure_checks(conn, set_docs, 100),
                "per_user_batch_1": measure_checks(conn, per_user_docs, 1),
                "baseline_supabase_method": measure_baseline(db, set_docs[:BASELINE_CHANGES]),
            }
            # Side by side at 10, 100 and 1 000 subscribers (all candidates of each change):
            # the baseline, and ours in batches of 20 (the relay batches as calls queue up).
            for n in SUBSCRIBER_COUNTS:
                results[f"baseline_{n}_subscribers"] = measure_baseline(
                    db, set_docs[:max(BASELINE_CHANGES, BASELINE_CHANGES * CANDIDATES // n)], n)
                results[f"set_based_batch_20_{n}_subscribers"] = measure_checks(conn, set_docs, 20, n)
    finally:
        if db:
            db.drop()
        if not os.environ.get("REALTIME_TEST_DSN"):
            server.destroy()
    base = results["baseline_supabase_method"]["changes_per_second"]
    ratios = {n: round(results[f"set_based_batch_20_{n}_subscribers"]["changes_per_second"]
                       / results[f"baseline_{n}_subscribers"]["changes_per_second"], 1) for n in SUBSCRIBER_COUNTS}
    report = {"benchmark": "rls_check", "size": C.SIZE, "candidates": CANDIDATES, "orgs": ORGS,
              "policy": SET_BASED.split("USING ", 1)[1], "results": results,
              "set_based_vs_baseline": round(results["set_based_batch_20"]["changes_per_second"] / base, 1),
              "set_based_batch_100_vs_baseline": round(
                  results["set_based_batch_100"]["changes_per_second"] / base, 1),
              "set_based_batch_20_vs_baseline_by_subscribers": ratios,
              "target_100x_met": report_target(results, base),
              "machine": C.machine_info(),
              "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(f"\nrealtime.check_rows, {CANDIDATES} candidates per change (membership sub-select):\n")
    print(f"{'variant':<28}{'changes':>8}{'seconds':>10}{'changes/s':>12}{'checks/s':>14}")
    for name, r in results.items():
        print(f"{name:<28}{r['changes']:>8}{r['seconds']:>10.3f}{r['changes_per_second']:>12,}"
              f"{r['candidate_checks_per_second']:>14,}")
    print(f"by subscribers (batches of 20 / baseline): {ratios}")
    print(f"\nset-based (batches of 20) / Supabase's method: {report['set_based_vs_baseline']}x;"
          f" results in {args.output}")


if __name__ == "__main__":
    main()
