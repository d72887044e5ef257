#!/usr/bin/python3
"""Private channels: a join storm authorized by a membership policy, and broadcasts from
the database (realtime.broadcast_changes in a trigger) to 1 000 private subscribers.

Join storm: rt-loadgen's storm scenario connects and joins CLIENTS clients (10 000 at
small and full size) over 100 channels as fast as 512 handshakes in flight allow, once
with public joins and once with `config.private: true`. Every private join runs
realtime.authorize on the relay's database pool (--db-pool-size, default 4) under the
documentation's membership policy:
    EXISTS (SELECT 1 FROM rooms_users WHERE user_id = auth.uid() AND room_topic = realtime.topic())
Figures: joins per second from the first connect() to the last join, and the p99 of
connect-to-joined latency, side by side.

Broadcast from the database: 1 000 private subscribers of one topic (rt-loadgen idle,
heartbeats off), then ROWS rows inserted into a table whose AFTER INSERT trigger calls
realtime.broadcast_changes (transactions of BATCH rows). Rows per second from the first
commit until the relay has written every row to every subscriber (its
realtime_messages_out_total grew by ROWS x 1 000); every delivery is counted, none
assumed.

Results are not tests. Relay and Postgres share BENCH_SERVER_CPU's machine with the load
generator on BENCH_CLIENT_CPU; runs disturbed by other processes are retried
(BENCH_TRIES).

Usage: BENCH_SIZE=tiny|small|full /usr/bin/python3 bench/private_bench.py [--only storm|db]
Writes bench/results/private.json and prints tables.
"""
import argparse
import os
import sys
import tempfile
import time
from contextlib import closing

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common as C  # noqa: E402
from support.pg import Database, PgServer  # noqa: E402
from support.supabase_app import API_ROLES, AUTH_SCHEMA  # noqa: E402

USER = "11111111-1111-4111-8111-111111111111"
CHANNELS = 100
STORM_CLIENTS = C.by_size(200, 10000, 10000)
SUBSCRIBERS = C.by_size(100, 1000, 1000)
ROWS = C.by_size(50, 500, 2000)
BATCH = 10
DB_TOPIC = "db-room"

SCHEMA = """
CREATE TABLE public.rooms_users (user_id uuid NOT NULL, room_topic text NOT NULL,
                                 PRIMARY KEY (user_id, room_topic));
GRANT SELECT ON public.rooms_users TO authenticated;
CREATE POLICY "members read" ON realtime.messages FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM public.rooms_users
                  WHERE user_id = (SELECT auth.uid()) AND room_topic = (SELECT realtime.topic())
                    AND realtime.messages.extension IN ('broadcast', 'presence')));
CREATE TABLE public.notes (id bigint PRIMARY KEY, body text);
CREATE FUNCTION notes_changes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  PERFORM realtime.broadcast_changes('db-room', TG_OP, TG_OP, TG_TABLE_NAME, TG_TABLE_SCHEMA, NEW, OLD);
  RETURN NULL; END $$;
CREATE TRIGGER notes_changes AFTER INSERT ON public.notes FOR EACH ROW EXECUTE FUNCTION notes_changes();
"""


def setup(db):
    db.execute(API_ROLES)
    db.execute(AUTH_SCHEMA)
    db.execute(SCHEMA)
    db.execute("INSERT INTO rooms_users SELECT %s, 'lg' || i FROM generate_series(0, %s) i", (USER, CHANNELS - 1))
    db.execute("INSERT INTO rooms_users VALUES (%s, %s)", (USER, DB_TOPIC))


def storm_once(db, private):
    def run():
        with C.Relay(db=db.dsn, args=["--no-replication"]) as relay:
            token = relay.token(role="authenticated", sub=USER)
            args = ["storm", "--clients", STORM_CLIENTS, "--channels", CHANNELS, "--token", token,
                    "--target", f"127.0.0.1:{relay.port}", "--server-pid", relay.pid]
            return C.loadgen(args + (["--private"] if private else []))
    return C.quiet_run(f"storm {STORM_CLIENTS} {'private' if private else 'public'}", run)


def storm_summary(r):
    j = r.get("join_latency_us") or {}
    s = r.get("server") or {}
    return {"clients": r["connections"]["target"], "joined": r["connections"]["joined"],
            "failed": r["connections"]["failed"], "elapsed_s": r["storm"]["elapsed_s"],
            "joins_per_second": r["storm"]["joins_per_second"],
            "join_p50_ms": j.get("p50", 0) / 1000, "join_p99_ms": j.get("p99", 0) / 1000,
            "server_cpu_us_per_join": s.get("cpu_us_per_join"), "foreign_util": C.foreign_of(r),
            "tries": r.get("tries"), "disturbed": r.get("disturbed"), "errors": r.get("errors")}


def insert_rows(db, first):
    with closing(db.connect()) as conn, conn.cursor() as cur:
        for at in range(first, first + ROWS, BATCH):
            cur.execute("INSERT INTO notes SELECT i, 'note ' || i FROM generate_series(%s, %s) i",
                        (at, min(at + BATCH, first + ROWS) - 1))
            conn.commit()


def db_broadcast_once(db):
    """1 000 private subscribers; ROWS rows through broadcast_changes; seconds until all
    ROWS x SUBSCRIBERS deliveries were written by the relay."""
    result = {}

    def run():
        with C.Relay(db=db.dsn) as relay:
            relay.wait_slot()
            token = relay.token(role="authenticated", sub=USER)
            ready = os.path.join(tempfile.mkdtemp(prefix="private-bench-"), "ready")

            def publish(_loadgen):
                before = relay.metrics().get("realtime_messages_out_total", 0)
                want = before + ROWS * SUBSCRIBERS
                first = int(time.time() * 1000)
                started = time.monotonic()
                insert_rows(db, first)
                committed = time.monotonic()
                deadline = committed + 120
                out = before
                while time.monotonic() < deadline:
                    out = relay.metrics().get("realtime_messages_out_total", 0)
                    if out >= want:
                        break
                    time.sleep(0.01)
                done = time.monotonic()
                result.update({"rows": ROWS, "subscribers": SUBSCRIBERS, "batch": BATCH,
                               "commit_s": round(committed - started, 3), "seconds": round(done - started, 3),
                               "delivered": int(out - before), "expected": ROWS * SUBSCRIBERS,
                               "rows_per_second": round(ROWS / (done - started), 1),
                               "deliveries_per_second": round((out - before) / (done - started))})
                _loadgen.send_signal(2)  # SIGINT: the idle hold ends, with its result
            r = C.loadgen(["idle", "--private", "--clients", SUBSCRIBERS, "--channel", DB_TOPIC, "--token", token,
                           "--vsn", "2.0.0", "--heartbeat", 0, "--duration", 600,
                           "--target", f"127.0.0.1:{relay.port}", "--server-pid", relay.pid],
                          ready_file=ready, on_ready=publish)
            r["db_broadcast"] = dict(result)
            return r
    r = C.quiet_run(f"broadcast_changes {ROWS} rows to {SUBSCRIBERS}", run)
    out = dict(r.get("db_broadcast") or {})
    out.update({"joined": r["connections"]["joined"], "foreign_util": C.foreign_of(r), "tries": r.get("tries"),
                "disturbed": r.get("disturbed")})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("storm", "db"))
    opts = ap.parse_args()
    server = PgServer(dsn=os.environ.get("REALTIME_TEST_DSN")).start()
    db = None
    report = {"channels": CHANNELS, "policy": "membership (rooms_users EXISTS)"}
    try:
        db = Database(server)
        setup(db)
        if opts.only in (None, "storm"):
            storm = {kind: storm_summary(storm_once(db, kind == "private")) for kind in ("public", "private")}
            report["storm"] = storm
            print(f"\nJoin storm: connect + join {STORM_CLIENTS} clients over {CHANNELS} channels")
            C.table(["channels", "joined", "failed", "seconds", "joins/s", "p50 ms", "p99 ms", "cpu us/join",
                     "disturbed"],
                    [[k, v["joined"], v["failed"], v["elapsed_s"], v["joins_per_second"], v["join_p50_ms"],
                      v["join_p99_ms"], v["server_cpu_us_per_join"], v["disturbed"]] for k, v in storm.items()])
        if opts.only in (None, "db"):
            d = db_broadcast_once(db)
            report["db_broadcast"] = d
            print(f"\nbroadcast_changes to {SUBSCRIBERS} private subscribers ({BATCH} rows per transaction)")
            C.table(["rows", "joined", "delivered", "expected", "seconds", "rows/s", "deliveries/s", "disturbed"],
                    [[d.get("rows"), d.get("joined"), d.get("delivered"), d.get("expected"), d.get("seconds"),
                      d.get("rows_per_second"), d.get("deliveries_per_second"), d.get("disturbed")]])
        C.write_result("private", report)
    finally:
        C.stop_all()
        if db:
            db.drop()
        if not os.environ.get("REALTIME_TEST_DSN"):
            server.destroy()


if __name__ == "__main__":
    main()
