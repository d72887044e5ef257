"""realtime.messages: Supabase's columns, RLS with no policies, the policies of Supabase's
docs, and the daily partitions realtime.maintain_messages makes ahead and drops after
the retention period."""
import datetime
import threading

import psycopg2
import pytest

from support.pg import wait_until

from .helpers import as_user, user, ALICE

DOCS_POLICIES = [
    """CREATE POLICY "Authenticated users can receive broadcasts" ON "realtime"."messages"
       FOR SELECT TO authenticated USING (true)""",
    """CREATE POLICY "Authenticated users can send broadcasts" ON "realtime"."messages"
       FOR INSERT TO authenticated WITH CHECK (true)""",
    """CREATE POLICY "topic per user" ON realtime.messages FOR SELECT TO authenticated
       USING (realtime.topic() = 'room:' || (SELECT auth.uid())::text AND extension IN ('broadcast', 'presence'))""",
    """CREATE POLICY "members" ON realtime.messages FOR SELECT TO authenticated
       USING (EXISTS (SELECT user_id FROM rooms_users WHERE user_id = (SELECT auth.uid())
                      AND topic = (SELECT realtime.topic()) AND realtime.messages.extension IN ('broadcast')))""",
    """CREATE POLICY "members can track" ON "realtime"."messages" FOR INSERT TO authenticated
       WITH CHECK (realtime.messages.extension = 'presence'
                   AND EXISTS (SELECT 1 FROM rooms_users WHERE user_id = (SELECT auth.uid())
                               AND topic = (SELECT realtime.topic())))""",
]


def partitions(db):
    """{name: (from, to)} of realtime.messages' partitions."""
    rows = db.execute("""SELECT c.relname, r.lower_bound, r.upper_bound
                           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
                                realtime._partition_range(i.inhrelid) r
                          WHERE i.inhparent = 'realtime.messages'::regclass""")
    return {name: (lo, hi) for name, lo, hi in rows}


def today(db):
    return db.scalar("SELECT timezone('UTC', now())::date")


def name_of(day):
    return "messages_" + day.strftime("%Y_%m_%d")


def test_columns_are_supabases(app_db):
    cols = app_db.execute("""SELECT column_name, data_type, is_nullable FROM information_schema.columns
                              WHERE table_schema = 'realtime' AND table_name = 'messages' ORDER BY ordinal_position""")
    assert cols == [("topic", "text", "NO"), ("extension", "text", "NO"), ("payload", "jsonb", "YES"),
                    ("event", "text", "YES"), ("private", "boolean", "YES"),
                    ("updated_at", "timestamp without time zone", "NO"),
                    ("inserted_at", "timestamp without time zone", "NO"), ("id", "uuid", "NO"),
                    ("binary_payload", "bytea", "YES")]
    assert app_db.execute("""SELECT relrowsecurity, relforcerowsecurity, relkind FROM pg_class
                              WHERE oid = 'realtime.messages'::regclass""") == [(True, False, "p")]
    assert app_db.scalar("SELECT count(*) FROM pg_policies WHERE schemaname = 'realtime'") == 0


def test_timestamps_are_utc_whatever_the_session_timezone(app_db):
    app_db.execute("SET TIME ZONE 'Pacific/Kiritimati'")  # UTC+14: another date half of the day
    app_db.execute("SELECT realtime.send('{}', 'e', 'room1')")
    assert app_db.scalar("""SELECT abs(extract(epoch FROM inserted_at - timezone('UTC', now())))
                             FROM realtime.messages""") < 600


def test_docs_policies_create_and_rls_hides_rows(app_db):
    app_db.execute("CREATE TABLE rooms_users (user_id uuid, topic text); GRANT SELECT ON rooms_users TO authenticated")
    for policy in DOCS_POLICIES:
        app_db.execute(policy)
    app_db.execute("SELECT realtime.send('{}', 'e', 'room1')")
    # Rows are hidden from users by the policies on the parent, and unreachable through
    # the partitions, which grant nothing.
    app_db.execute("CREATE TABLE seen (n bigint); GRANT ALL ON seen TO authenticated")
    as_user(app_db, user(ALICE), "INSERT INTO seen SELECT count(*) FROM realtime.messages", topic="room2")
    assert app_db.scalar("SELECT n FROM seen") == 1  # "receive broadcasts" USING (true)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        as_user(app_db, user(ALICE), f"SELECT count(*) FROM realtime.{name_of(today(app_db))}")


def test_partitions_cover_yesterday_to_three_days_ahead(app_db):
    day = today(app_db)
    expected = {name_of(day + datetime.timedelta(days=d)) for d in range(-1, 4)}
    assert expected <= set(partitions(app_db))
    lo, hi = partitions(app_db)[name_of(day)]
    assert (lo, hi) == (datetime.datetime.combine(day, datetime.time()),
                        datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time()))
    # Partitions belong to the table, not to the extension, so that retention can drop them.
    assert app_db.scalar("""SELECT count(*) FROM pg_depend d JOIN pg_inherits i ON i.inhrelid = d.objid
                             WHERE i.inhparent = 'realtime.messages'::regclass AND d.deptype = 'e'""") == 0


def test_maintenance_creates_missing_partitions_and_drops_old_ones(app_db):
    day = today(app_db)
    for offset in (-10, -4, -3):
        app_db.execute("SELECT realtime._create_message_partition(%s)", (day + datetime.timedelta(days=offset),))
    app_db.execute(f"""INSERT INTO realtime.messages (topic, extension, event, payload, private, inserted_at)
                       VALUES ('room1', 'broadcast', 'old', '{{}}', true, %s)""",
                   (datetime.datetime.combine(day - datetime.timedelta(days=10), datetime.time(12)),))
    tomorrow = name_of(day + datetime.timedelta(days=1))
    app_db.execute(f"DROP TABLE realtime.{tomorrow}")
    done = app_db.execute("SELECT * FROM realtime.maintain_messages()")
    # Kept: every partition with a row younger than 3 days (a partition ends at midnight).
    assert set(done) == {("created", f"realtime.{tomorrow}"),
                         ("dropped", f"realtime.{name_of(day - datetime.timedelta(days=10))}"),
                         ("dropped", f"realtime.{name_of(day - datetime.timedelta(days=4))}")}
    assert name_of(day - datetime.timedelta(days=3)) in partitions(app_db)
    assert app_db.scalar("SELECT count(*) FROM realtime.messages WHERE event = 'old'") == 0
    # Nothing to do the second time.
    assert app_db.execute("SELECT * FROM realtime.maintain_messages()") == []


def test_retention_and_days_ahead_are_configurable(app_db):
    day = today(app_db)
    app_db.execute("SELECT realtime._create_message_partition(%s)", (day - datetime.timedelta(days=2),))
    done = app_db.execute("SELECT * FROM realtime.maintain_messages('1 day', 6)")
    assert set(done) == {("created", f"realtime.{name_of(day + datetime.timedelta(days=d))}")
                         for d in (4, 5, 6)} | {("dropped", f"realtime.{name_of(day - datetime.timedelta(days=2))}")}
    for bad in ("'0 days', 3", "'-1 day', 3", "'3 days', -1", "'3 days', 1000"):
        with pytest.raises(psycopg2.errors.InvalidParameterValue):
            app_db.execute(f"SELECT * FROM realtime.maintain_messages({bad})")


def test_maintenance_never_waits_long_and_does_not_block_writers(app_db):
    """Making a partition (ATTACH) does not wait for a transaction that is writing
    messages; dropping one must, so it gives up after lock_wait and says 'busy'."""
    day = today(app_db)
    app_db.execute("SELECT realtime._create_message_partition(%s)", (day - datetime.timedelta(days=9),))
    app_db.execute(f"DROP TABLE realtime.{name_of(day + datetime.timedelta(days=2))}")
    writer = app_db.connect(autocommit=False)
    try:
        with writer.cursor() as cur:
            cur.execute("SELECT realtime.send('{}', 'e', 'room1')")  # holds ROW EXCLUSIVE
        done = app_db.execute("SELECT * FROM realtime.maintain_messages(lock_wait => '50 ms')")
        assert set(done) == {("busy", f"realtime.{name_of(day - datetime.timedelta(days=9))}"),
                             ("created", f"realtime.{name_of(day + datetime.timedelta(days=2))}")}
        writer.commit()
    finally:
        writer.close()
    assert app_db.execute("SELECT * FROM realtime.maintain_messages()") == [
        ("dropped", f"realtime.{name_of(day - datetime.timedelta(days=9))}")]
    assert app_db.scalar("SHOW lock_timeout") == "0"


def test_a_partition_made_by_hand_is_respected(app_db):
    day = today(app_db)
    start = datetime.datetime.combine(day + datetime.timedelta(days=2), datetime.time())
    app_db.execute(f"DROP TABLE realtime.{name_of(day + datetime.timedelta(days=2))}")
    app_db.execute(f"DROP TABLE realtime.{name_of(day + datetime.timedelta(days=3))}")
    app_db.execute("""CREATE TABLE realtime.by_hand PARTITION OF realtime.messages
                      FOR VALUES FROM (%s) TO (%s)""", (start, start + datetime.timedelta(days=2)))
    app_db.execute("CREATE TABLE realtime.rest PARTITION OF realtime.messages DEFAULT")
    assert app_db.execute("SELECT * FROM realtime.maintain_messages()") == []
    assert {"by_hand", "rest"} <= set(partitions(app_db))


def test_concurrent_maintenance_calls_agree(app_db):
    """Two relays may run maintenance at once: the second waits for the first's new
    partition and finds it made, instead of failing."""
    ahead = name_of(today(app_db) + datetime.timedelta(days=3))
    app_db.execute(f"DROP TABLE realtime.{ahead}")
    first = app_db.connect(autocommit=False)
    second_result = {}
    try:
        with first.cursor() as cur:
            cur.execute("SELECT * FROM realtime.maintain_messages()")
            assert cur.fetchall() == [("created", f"realtime.{ahead}")]

        def second():
            conn = app_db.connect()
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT * FROM realtime.maintain_messages(lock_wait => '60 s')")
                    second_result["rows"] = cur.fetchall()
            except Exception as exc:  # reported by the assertion below
                second_result["error"] = exc
            finally:
                conn.close()
        thread = threading.Thread(target=second)
        thread.start()
        wait_until(lambda: app_db.scalar("""SELECT count(*) FROM pg_stat_activity
                                             WHERE wait_event_type = 'Lock'
                                               AND query LIKE '%%maintain_messages%%'""") == 1,
                   timeout=30, what="the second call to wait for the first")
        first.commit()
    finally:
        first.close()
    thread.join(timeout=60)
    assert second_result == {"rows": []}
