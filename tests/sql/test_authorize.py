"""realtime.authorize: Realtime Authorization decided by the policies of Supabase's docs,
as Supabase decides it (probe rows read and written as the user, always rolled back)."""
import json
import threading

import psycopg2
import pytest

from support.pg import wait_until

from .helpers import ALICE, ANON, BOB, CAROL, SERVICE, authorize, grants, user

MEMBERSHIP = """
CREATE TABLE rooms_users (user_id uuid, topic text);
GRANT SELECT ON rooms_users TO authenticated;
"""


def test_no_policies_deny_everyone_but_roles_that_bypass_rls(app_db):
    for claims in (ANON, user(ALICE)):
        assert grants(authorize(app_db, "room1", claims, write=True)) == (False, False, False, False)
    assert grants(authorize(app_db, "room1", SERVICE, write=True)) == (True, True, True, True)


def test_read_only_policy(app_db):
    app_db.execute("""CREATE POLICY "authenticated can receive" ON realtime.messages
                      FOR SELECT TO authenticated USING (true)""")
    assert grants(authorize(app_db, "room1", user(ALICE), write=True)) == (True, True, False, False)
    assert grants(authorize(app_db, "room1", ANON, write=True)) == (False, False, False, False)


def test_read_write_policies(app_db):
    app_db.execute("""CREATE POLICY "authenticated can receive" ON realtime.messages
                      FOR SELECT TO authenticated USING (true);
                      CREATE POLICY "authenticated can send" ON realtime.messages
                      FOR INSERT TO authenticated WITH CHECK (true)""")
    result = authorize(app_db, "room1", user(ALICE), write=True)
    assert grants(result) == (True, True, True, True)
    assert result["error_code"] is None and result["error_message"] is None


def test_topic_per_user_policy(app_db):
    app_db.execute("""CREATE POLICY "own room" ON realtime.messages FOR SELECT TO authenticated
                      USING (realtime.topic() = 'room:' || (SELECT auth.uid())::text
                             AND extension IN ('broadcast', 'presence'))""")
    app_db.execute("""CREATE POLICY "send to own room" ON realtime.messages FOR INSERT TO authenticated
                      WITH CHECK (realtime.topic() = 'room:' || (SELECT auth.uid())::text
                                  AND extension = 'broadcast')""")
    assert grants(authorize(app_db, f"room:{ALICE}", user(ALICE), write=True)) == (True, True, True, False)
    assert grants(authorize(app_db, f"room:{BOB}", user(ALICE), write=True)) == (False, False, False, False)
    assert grants(authorize(app_db, f"room:{BOB}", user(BOB), write=True)) == (True, True, True, False)
    assert grants(authorize(app_db, f"room:{ALICE}", ANON, write=True)) == (False, False, False, False)


def test_membership_table_policy(app_db):
    app_db.execute(MEMBERSHIP)
    app_db.execute("INSERT INTO rooms_users VALUES (%s, 'game:1'), (%s, 'game:2')", (ALICE, BOB))
    app_db.execute("""CREATE POLICY "members receive" ON realtime.messages FOR SELECT TO authenticated
                      USING (EXISTS (SELECT user_id FROM rooms_users
                                      WHERE user_id = (SELECT auth.uid())
                                        AND topic = (SELECT realtime.topic())
                                        AND realtime.messages.extension IN ('broadcast')))""")
    assert grants(authorize(app_db, "game:1", user(ALICE))) == (True, False, None, None)
    assert grants(authorize(app_db, "game:1", user(BOB))) == (False, False, None, None)
    assert grants(authorize(app_db, "game:2", user(BOB))) == (True, False, None, None)
    # The membership is read at each check: joining the room grants access at once.
    app_db.execute("INSERT INTO rooms_users VALUES (%s, 'game:1')", (BOB,))
    assert grants(authorize(app_db, "game:1", user(BOB))) == (True, False, None, None)


def test_claims_reach_policies(app_db):
    """auth.role(), auth.jwt() and request.jwt.claims hold the token's claims."""
    app_db.execute("""CREATE POLICY "vip" ON realtime.messages FOR SELECT
                      USING ((SELECT auth.role()) = 'authenticated'
                             AND coalesce(((SELECT auth.jwt()) ->> 'vip')::boolean, false)
                             AND current_setting('request.jwt.claim.sub', true) = %s)""", (ALICE,))
    assert authorize(app_db, "t", user(ALICE, vip=True))["broadcast_read"] is True
    assert authorize(app_db, "t", user(ALICE, vip=False))["broadcast_read"] is False
    assert authorize(app_db, "t", user(BOB, vip=True))["broadcast_read"] is False


def test_extensions_are_told_apart(app_db):
    app_db.execute("""CREATE POLICY "presence only" ON realtime.messages FOR SELECT TO authenticated
                      USING (extension = 'presence');
                      CREATE POLICY "track only" ON realtime.messages FOR INSERT TO authenticated
                      WITH CHECK (extension = 'presence')""")
    assert grants(authorize(app_db, "t", user(ALICE), write=True)) == (False, True, False, True)
    # Presence disabled: its read is not checked (NULL), its write is no, as in Supabase.
    assert grants(authorize(app_db, "t", user(ALICE), write=True, presence=False)) == (
        False, None, False, False)


def test_probe_rows_look_like_supabases(app_db):
    """A policy sees the probe rows Supabase inserts: topic, extension, private false,
    no event, no payload, a fresh inserted_at."""
    app_db.execute("""CREATE POLICY "probe shape" ON realtime.messages FOR SELECT TO authenticated
                      USING (topic = realtime.topic() AND private IS FALSE AND event IS NULL
                             AND payload IS NULL AND binary_payload IS NULL
                             AND inserted_at > timezone('UTC', now()) - interval '1 minute');
                      CREATE POLICY "probe shape w" ON realtime.messages FOR INSERT TO authenticated
                      WITH CHECK (topic = realtime.topic() AND private IS FALSE AND event IS NULL
                                  AND payload IS NULL)""")
    assert grants(authorize(app_db, "t", user(ALICE), write=True)) == (True, True, True, True)


def test_a_raising_policy_denies_only_that_user(app_db):
    app_db.execute("""CREATE FUNCTION public.check_member() RETURNS boolean LANGUAGE plpgsql STABLE AS $$
                      BEGIN
                          IF (SELECT auth.uid()) = %s THEN
                              RAISE EXCEPTION 'membership lookup failed for %%', auth.uid();
                          END IF;
                          RETURN true;
                      END $$""", (CAROL,))
    app_db.execute("""CREATE POLICY "checked" ON realtime.messages FOR SELECT TO authenticated
                      USING ((SELECT public.check_member()));
                      CREATE POLICY "checked w" ON realtime.messages FOR INSERT TO authenticated
                      WITH CHECK ((SELECT public.check_member()))""")
    carol = authorize(app_db, "t", user(CAROL), write=True)
    assert grants(carol) == (None, None, None, None)
    assert carol["error_code"] == "P0001"
    assert carol["error_message"] == f"membership lookup failed for {CAROL}"
    # Write alone: the raising WITH CHECK is an error too, not a plain no.
    carol_write = authorize(app_db, "t", user(CAROL), read=False, write=True)
    assert grants(carol_write) == (None, None, None, None) and carol_write["error_code"] == "P0001"
    for other in (ALICE, BOB):
        result = authorize(app_db, "t", user(other), write=True)
        assert grants(result) == (True, True, True, True) and result["error_code"] is None


@pytest.mark.parametrize("claims,code,message", [
    ({"role": "nobody", "sub": ALICE}, "22023", 'role "nobody" does not exist'),
    ({"sub": ALICE}, "22023", 'the claims carry no usable "role" (got null)'),
    ({"role": "none"}, "22023", 'the claims carry no usable "role" (got "none")'),
    ({"role": ""}, "22023", 'the claims carry no usable "role" (got "")'),
])
def test_unusable_roles_are_errors(app_db, claims, code, message):
    """No role, or "none" (which would reset the role to the relay's own): never allowed."""
    app_db.execute("CREATE POLICY \"all\" ON realtime.messages FOR SELECT USING (true)")
    result = authorize(app_db, "t", claims, write=True)
    assert grants(result) == (None, None, None, None)
    assert (result["error_code"], result["error_message"]) == (code, message)


def test_nothing_is_left_behind(app_db):
    app_db.execute("""CREATE POLICY "all" ON realtime.messages FOR SELECT TO authenticated USING (true);
                      CREATE POLICY "all w" ON realtime.messages FOR INSERT TO authenticated WITH CHECK (true)""")
    conn = app_db.connect()
    try:
        with conn.cursor() as cur:
            for _ in range(3):
                cur.execute("SELECT * FROM realtime.authorize('t', %s::jsonb, true, true)",
                            (json.dumps(user(ALICE)),))
                assert cur.fetchone()[:4] == (True, True, True, True)
            cur.execute("SELECT current_user, realtime.topic(), current_setting('request.jwt.claims', true)")
            assert cur.fetchone() == ("postgres", None, "")
            cur.execute("SELECT count(*) FROM realtime.messages")
            assert cur.fetchone()[0] == 0
            # Inside a caller's transaction too: nothing to undo afterwards.
            cur.execute("BEGIN")
            cur.execute("SELECT * FROM realtime.authorize('t', %s::jsonb, true, true)",
                        (json.dumps(user(ALICE)),))
            cur.execute("SELECT current_user, realtime.topic(), count(*) FROM realtime.messages")
            assert cur.fetchone() == ("postgres", None, 0)
            cur.execute("COMMIT")
    finally:
        conn.close()


def test_missing_partition_is_reported(app_db):
    today = app_db.scalar("SELECT 'realtime.messages_' || to_char(timezone('UTC', now()), 'YYYY_MM_DD')")
    app_db.execute(f"DROP TABLE {today}")
    result = authorize(app_db, "t", user(ALICE))
    assert result["error_code"] == "23514"
    assert "no partition of relation" in result["error_message"]
    app_db.execute("SELECT * FROM realtime.maintain_messages()")
    assert authorize(app_db, "t", user(ALICE))["error_code"] is None


def test_statement_timeout_is_not_swallowed(app_db):
    """A policy slower than the relay's statement_timeout fails the statement (57014,
    Supabase's query_canceled) rather than reading as a denial."""
    app_db.execute("""CREATE POLICY "slow" ON realtime.messages FOR SELECT TO authenticated
                      USING ((SELECT pg_sleep(5) IS NOT NULL))""")
    conn = app_db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SET statement_timeout = '50ms'")
            with pytest.raises(psycopg2.errors.QueryCanceled):
                cur.execute("SELECT * FROM realtime.authorize('t', %s::jsonb)", (json.dumps(user(ALICE)),))
            cur.execute("SELECT current_user, count(*) FROM realtime.messages")
            assert cur.fetchone() == ("postgres", 0)
    finally:
        conn.close()


def test_joins_do_not_wait_for_each_other(app_db):
    """A check stuck in a slow policy does not hold up another user's check: nothing is
    shared between them. The slow policy waits on an advisory lock the test holds."""
    app_db.execute("""CREATE FUNCTION public.gate() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
                      BEGIN
                          IF (SELECT auth.uid()) = %s THEN PERFORM pg_advisory_xact_lock_shared(4242); END IF;
                          RETURN true;
                      END $$""", (CAROL,))
    app_db.execute("""CREATE POLICY "gated" ON realtime.messages FOR SELECT TO authenticated
                      USING ((SELECT public.gate()))""")
    gate = app_db.connect(autocommit=False)
    slow_result = {}
    try:
        with gate.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(4242)")
        slow = threading.Thread(target=lambda: slow_result.update(authorize(app_db, "t", user(CAROL))))
        slow.start()
        wait_until(lambda: app_db.scalar("""SELECT count(*) FROM pg_stat_activity
                                             WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'
                                               AND query LIKE '%%realtime.authorize%%'""") == 1,
                   timeout=30, what="the slow check to wait on the gate")
        for other in (ALICE, BOB):
            assert authorize(app_db, "t", user(other))["broadcast_read"] is True
        assert slow.is_alive() and not slow_result
    finally:
        gate.rollback()
        gate.close()
    slow.join(timeout=30)
    assert slow_result["broadcast_read"] is True
