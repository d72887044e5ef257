"""Private channels through the relay with the policies of Supabase's documentation
(Realtime Authorization): a topic per user, a membership table, read-only members;
broadcasts from the database (realtime.send, broadcast_changes in a trigger) that reach
private members only once committed; replay at join with nothing lost or doubled at the
seam; checks that run side by side on the database pool (and a slow or raising policy
that holds up nobody else); the relay's retention of realtime.messages. The cases that
mirror Supabase's own tests one by one are in tests/compat/test_private.py."""
import threading
import time
import uuid
from contextlib import closing

import psycopg2
import pytest

from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run, unique_topic

ALICE = "11111111-1111-4111-8111-111111111111"
BOB = "22222222-2222-4222-8222-222222222222"

# The documentation's topic-per-user policy: each user reads and writes its own room.
TOPIC_PER_USER = """
CREATE POLICY "own room read" ON realtime.messages FOR SELECT TO authenticated
  USING ((SELECT realtime.topic()) = 'room:' || (SELECT auth.uid())::text
         AND realtime.messages.extension IN ('broadcast', 'presence'));
CREATE POLICY "own room write" ON realtime.messages FOR INSERT TO authenticated
  WITH CHECK ((SELECT realtime.topic()) = 'room:' || (SELECT auth.uid())::text
              AND realtime.messages.extension IN ('broadcast', 'presence'));
"""

# The documentation's membership table: members of a room read and write it.
MEMBERSHIP = """
CREATE TABLE public.rooms_users (user_id uuid NOT NULL, room_topic text NOT NULL);
GRANT SELECT ON public.rooms_users TO authenticated;
CREATE POLICY "members read" ON realtime.messages FOR SELECT TO authenticated
  USING (EXISTS (SELECT 1 FROM public.rooms_users
                  WHERE user_id = (SELECT auth.uid()) AND room_topic = (SELECT realtime.topic())
                    AND realtime.messages.extension IN ('broadcast', 'presence')));
CREATE POLICY "members write" ON realtime.messages FOR INSERT TO authenticated
  WITH CHECK (EXISTS (SELECT 1 FROM public.rooms_users
                       WHERE user_id = (SELECT auth.uid()) AND room_topic = (SELECT realtime.topic())
                         AND realtime.messages.extension IN ('broadcast', 'presence')));
"""

READ_ONLY = """
CREATE POLICY "anyone reads {t}" ON realtime.messages FOR SELECT TO authenticated
  USING ((SELECT realtime.topic()) = '{t}');
"""


def name_of(topic):
    return topic.split(":", 1)[1]


def user(relay, sub, **claims):
    return relay.token(role="authenticated", sub=sub, **claims)


def private(replay=None, **kw):
    config = join_config(private=True, **kw)
    if replay is not None:
        config["broadcast"]["replay"] = replay
    return config


async def joined(relay, topic, token, vsn="2.0.0", **kw):
    c = await PhoenixClient.open(relay, vsn, token=token)
    reply = await c.join(topic, private(**kw))
    assert reply["status"] == "ok", reply
    return c


def refusal(topic):
    return {"status": "error", "response": {
        "reason": f"Unauthorized: You do not have permissions to read from this Channel topic: {name_of(topic)}"}}


@pytest.fixture
def relay_db(app_db, pg_relay):
    return app_db, pg_relay


def test_topic_per_user(relay_db, vsn):
    db, relay = relay_db
    db.execute(TOPIC_PER_USER)
    own, other = f"realtime:room:{ALICE}", f"realtime:room:{BOB}"

    async def body():
        alice = await joined(relay, own, user(relay, ALICE), vsn, self=True, ack=True)
        intruder = await PhoenixClient.open(relay, vsn, token=user(relay, ALICE))
        assert await intruder.join(other, private()) == refusal(other)
        ref = await alice.broadcast(own, "note", {"n": 1})
        assert (await alice.reply(ref, own))["payload"]["status"] == "ok"
        assert (await alice.expect_event(own, "broadcast"))["payload"]["payload"] == {"n": 1}
        db.execute("SELECT realtime.send('{\"n\": 2}'::jsonb, 'from-sql', %s)", (name_of(own),))
        got = (await alice.expect_event(own, "broadcast", timeout=15))["payload"]
        assert got["event"] == "from-sql" and got["payload"]["n"] == 2 and uuid.UUID(got["meta"]["id"])
    run(body())


def test_membership_table(relay_db):
    db, relay = relay_db
    db.execute(MEMBERSHIP)
    topic = unique_topic()
    db.execute("INSERT INTO rooms_users VALUES (%s, %s), (%s, %s)", (ALICE, name_of(topic), BOB, name_of(topic)))

    async def body():
        alice = await joined(relay, topic, user(relay, ALICE))
        bob = await joined(relay, topic, user(relay, BOB), presence=True)
        await bob.expect_event(topic, "presence_state")
        stranger = await PhoenixClient.open(relay, "2.0.0", token=user(relay, str(uuid.uuid4())))
        assert await stranger.join(topic, private()) == refusal(topic)
        await alice.broadcast(topic, "hi", {"from": "alice"})
        assert (await bob.expect_event(topic, "broadcast"))["payload"]["payload"] == {"from": "alice"}
        assert (await bob.track(topic, {"name": "bob"}))["status"] == "ok"
        await bob.expect_event(topic, "presence_diff")
        # Bob leaves the room in the table; his next token is checked again and loses it.
        db.execute("DELETE FROM rooms_users WHERE user_id = %s", (BOB,))
        await bob.push(topic, "access_token", {"access_token": user(relay, BOB, exp_in=7200)})
        msg = await bob.expect_event(topic, "system")
        assert msg["payload"]["status"] == "error"
        assert msg["payload"]["message"] == \
            f"You do not have permissions to read from this Channel topic: {name_of(topic)}"
        await bob.expect_event(topic, "phx_close")
        await alice.broadcast(topic, "hi", {"from": "alice", "n": 2})
        await bob.assert_silent(0.5, lambda m: m["event"] == "broadcast")
    run(body())


def test_read_only_member(relay_db, vsn):
    """Reads; its sends get no reply (not even the ack) and reach nobody; its track is
    answered with an error and tracks nothing."""
    db, relay = relay_db
    topic = unique_topic()
    db.execute(READ_ONLY.format(t=name_of(topic)))

    async def body():
        reader = await joined(relay, topic, user(relay, ALICE), vsn, self=True, ack=True, presence=True)
        await reader.expect_event(topic, "presence_state")
        admin = await joined(relay, topic, relay.token(role="service_role"), vsn, presence=True)
        await admin.expect_event(topic, "presence_state")
        ref = await reader.broadcast(topic, "nope", {"n": 1})
        ref2 = await reader.push(topic, "presence", {"type": "presence", "event": "track", "payload": {"x": 1}})
        reply = await reader.reply(ref2, topic)
        assert reply["payload"] == {"status": "error", "response": {}}
        assert not [m for m in reader.inbox if m["event"] == "phx_reply" and m["ref"] == ref]
        await admin.assert_silent(0.5, lambda m: m["event"] in ("broadcast", "presence_diff"))
        await admin.broadcast(topic, "yes", {"n": 2})
        assert (await reader.expect_event(topic, "broadcast"))["payload"]["event"] == "yes"
    run(body())


def test_public_member_never_gets_private_messages(relay_db):
    db, relay = relay_db
    topic = unique_topic()
    db.execute(READ_ONLY.format(t=name_of(topic)))

    async def body():
        priv = await joined(relay, topic, user(relay, ALICE))
        pub = await PhoenixClient.open(relay, "2.0.0")
        assert (await pub.join(topic, join_config()))["status"] == "ok"
        db.execute("SELECT realtime.send('{}'::jsonb, 'private-one', %s, true)", (name_of(topic),))
        db.execute("SELECT realtime.send('{}'::jsonb, 'public-one', %s, false)", (name_of(topic),))
        assert (await priv.expect_event(topic, "broadcast", timeout=15))["payload"]["event"] == "private-one"
        assert (await pub.expect_event(topic, "broadcast", timeout=15))["payload"]["event"] == "public-one"
        await priv.assert_silent(0.5, lambda m: m["event"] == "broadcast")
        assert not [m for m in pub.inbox if m["event"] == "broadcast" and m["payload"]["event"] == "private-one"]
    run(body())


def test_broadcast_changes_and_rollback(relay_db):
    """The documentation's trigger: INSERT, UPDATE and DELETE reach the private channel
    once committed; a rolled back transaction delivers nothing."""
    db, relay = relay_db
    db.execute("""
        CREATE TABLE public.notes (id int PRIMARY KEY, body text);
        CREATE FUNCTION notes_changes() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN
          PERFORM realtime.broadcast_changes('notes:' || coalesce(NEW.id, OLD.id)::text, TG_OP, TG_OP,
                                             TG_TABLE_NAME, TG_TABLE_SCHEMA, NEW, OLD);
          RETURN NULL; END $$;
        CREATE TRIGGER notes_changes AFTER INSERT OR UPDATE OR DELETE ON public.notes
          FOR EACH ROW EXECUTE FUNCTION notes_changes();""")
    topic = "realtime:notes:1"
    db.execute(READ_ONLY.format(t="notes:1"))

    async def body():
        c = await joined(relay, topic, user(relay, ALICE))
        with closing(psycopg2.connect(db.dsn)) as conn, conn.cursor() as cur:
            cur.execute("INSERT INTO notes VALUES (1, 'never')")
            conn.rollback()
        db.execute("INSERT INTO notes VALUES (1, 'v1')")
        db.execute("UPDATE notes SET body = 'v2'")
        db.execute("DELETE FROM notes")
        got = []
        for _ in range(3):
            got.append((await c.expect_event(topic, "broadcast", timeout=15))["payload"])
        assert [g["event"] for g in got] == ["INSERT", "UPDATE", "DELETE"]
        assert got[0]["payload"]["record"] == {"id": 1, "body": "v1"} and got[0]["payload"]["old_record"] is None
        assert got[1]["payload"]["old_record"] == {"id": 1, "body": "v1"}
        assert got[2]["payload"]["record"] is None
        assert all(uuid.UUID(g["payload"]["id"]) and g["meta"]["id"] == g["payload"]["id"] for g in got)
        await c.assert_silent(0.5, lambda m: m["event"] == "broadcast")
    run(body())


class Sender:
    """Sends numbered private messages to a topic, one transaction each, until stopped."""

    def __init__(self, dsn, name):
        self.dsn, self.name = dsn, name
        self.sent = 0
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            with closing(psycopg2.connect(self.dsn)) as conn:
                conn.autocommit = True
                with conn.cursor() as cur:
                    while not self._stop.is_set():
                        cur.execute("SELECT realtime.send(jsonb_build_object('n', %s), 'seq', %s)",
                                    (self.sent + 1, self.name))
                        self.sent += 1
                        time.sleep(0.002)
        except Exception as exc:  # reported by stop()
            self.error = exc

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=30)
        assert self.error is None, self.error
        return self.sent


def test_replay_then_live_without_gap_or_double(relay_db, vsn):
    """Messages keep being committed while members join with replay: each member gets the
    newest stored ones (replayed, oldest first), then every later one live, in order,
    with none missing and none twice, however the commits fall around its query."""
    db, relay = relay_db
    topic = unique_topic()
    db.execute(READ_ONLY.format(t=name_of(topic)))
    since = int(time.time() * 1000) - 1000
    sender = Sender(db.dsn, name_of(topic))
    sender.start()

    async def body():
        wait_until(lambda: sender.sent >= 30, timeout=30, what="30 messages sent")
        members = []
        for _ in range(8):
            members.append(await joined(relay, topic, user(relay, ALICE), vsn,
                                        replay={"since": since, "limit": 10}))
        total = sender.stop()
        for c in members:
            seen = []
            while not seen or seen[-1][0] < total:
                m = (await c.expect_event(topic, "broadcast", timeout=15))["payload"]
                seen.append((m["payload"]["n"], m["meta"].get("replayed", False)))
            numbers = [n for n, _ in seen]
            replayed = [n for n, r in seen if r]
            assert 1 <= len(replayed) <= 10 and seen[0][1], seen[:12]
            assert numbers == list(range(numbers[0], total + 1)), f"gap or double at the seam: {numbers}"
            await c.assert_silent(0.3, lambda m: m["event"] == "broadcast")
    try:
        run(body())
    finally:
        sender._stop.set()


def test_replay_limit_and_since(relay_db):
    db, relay = relay_db
    topic = unique_topic()
    db.execute(READ_ONLY.format(t=name_of(topic)))
    for n in range(1, 6):
        db.execute("SELECT realtime.send(jsonb_build_object('n', %s), 'old', %s)", (n, name_of(topic)))
    since = int(time.time() * 1000) + 2
    wait_until(lambda: time.time() * 1000 > since + 5, timeout=5, what="the clock to pass since")
    for n in range(6, 9):
        db.execute("SELECT realtime.send(jsonb_build_object('n', %s), 'new', %s)", (n, name_of(topic)))

    async def body():
        for cfg, expected in (({"since": 0, "limit": 3}, [6, 7, 8]), ({"since": 0}, list(range(1, 9))),
                              ({"since": since, "limit": 25}, [6, 7, 8])):
            c = await joined(relay, topic, user(relay, ALICE), replay=cfg)
            got = [(await c.expect_event(topic, "broadcast"))["payload"] for _ in expected]
            assert [g["payload"]["n"] for g in got] == expected, cfg
            assert all(g["meta"]["replayed"] is True for g in got)
            await c.assert_silent(0.3, lambda m: m["event"] == "broadcast")
    run(body())


# -- checks on the pool ---------------------------------------------------------------------

# A policy that waits on an advisory lock the test holds for topics named slow-*.
GATED = """
CREATE FUNCTION public.gate(topic text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  IF topic LIKE 'slow-%' THEN PERFORM pg_advisory_xact_lock_shared(4242); END IF;
  IF topic LIKE 'boom-%' THEN RAISE EXCEPTION 'policy failed'; END IF;
  RETURN true;
END $$;
GRANT EXECUTE ON FUNCTION public.gate(text) TO authenticated;
CREATE POLICY "gated read" ON realtime.messages FOR SELECT TO authenticated
  USING (public.gate((SELECT realtime.topic())));
"""


def waiting_checks(db):
    return db.scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                     "AND wait_event = 'advisory' AND application_name LIKE 'realtime-relay%'")


def test_checks_run_side_by_side_and_a_slow_policy_holds_up_nobody(app_db, relay_factory):
    app_db.execute(GATED)
    relay = relay_factory(db_dsn=app_db.dsn, args=["--db-pool-size", "4"]).wait_slot()
    lock = psycopg2.connect(app_db.dsn)
    lock.autocommit = False
    try:
        with lock.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(4242)")

        async def body():
            slow = [await PhoenixClient.open(relay, "2.0.0", token=user(relay, ALICE)) for _ in range(3)]
            topics = [unique_topic("slow") for _ in slow]
            for c, t in zip(slow, topics):
                await c.push(t, "phx_join", {"config": private()}, join_ref="1", ref="1")
            wait_until(lambda: waiting_checks(app_db) == 3, timeout=20, what="three checks waiting at once")
            # The pool has a fourth session: other joins go on meanwhile, and a policy that
            # raises refuses only its own join.
            fast = await joined(relay, unique_topic("fast"), user(relay, BOB))
            boom = unique_topic("boom")
            assert await fast.join(boom, private()) == refusal(boom)
            lock.commit()  # releases the gate
            for c, t in zip(slow, topics):
                assert (await c.reply("1", t))["payload"]["status"] == "ok"
        run(body())
    finally:
        lock.close()


def test_private_only(app_db, relay_factory):
    relay = relay_factory(db_dsn=app_db.dsn, args=["--private-only"]).wait_slot()
    topic = unique_topic()
    app_db.execute(READ_ONLY.format(t=name_of(topic)))

    async def body():
        c = await PhoenixClient.open(relay, "2.0.0", token=user(relay, ALICE))
        assert await c.join(unique_topic(), join_config()) == {"status": "error", "response": {
            "reason": "PrivateOnly: This project only allows private channels"}}
        assert (await c.join(topic, private()))["status"] == "ok"
    run(body())


def test_http_private_broadcast(relay_db):
    """Batch: the caller's write check per topic (202 either way); single endpoint: 202 or
    403 Unauthorized. The anon key is no longer enough."""
    db, relay = relay_db
    db.execute(MEMBERSHIP)
    topic = unique_topic()
    db.execute("INSERT INTO rooms_users VALUES (%s, %s)", (ALICE, name_of(topic)))

    async def body():
        c = await joined(relay, topic, user(relay, ALICE))
        msg = {"topic": name_of(topic), "event": "e", "private": True}
        for token in (relay.token(role="anon"), user(relay, BOB)):
            status, _ = relay.broadcast_http([dict(msg, payload={"by": "outsider"})], token=token)
            assert status == 202
        path = f"/api/broadcast/{name_of(topic)}/events/single?private=true"
        status, body_ = relay.http(path, "POST", b'{"by":"bob"}', {"Content-Type": "application/json",
                                                                   "Authorization": f"Bearer {user(relay, BOB)}"})
        assert (status, body_) == (403, {"message": "Unauthorized"})
        status, _ = relay.broadcast_http([dict(msg, payload={"by": "alice"})], token=user(relay, ALICE))
        assert status == 202
        assert (await c.expect_event(topic, "broadcast"))["payload"]["payload"] == {"by": "alice"}
        status, _ = relay.http(path, "POST", b'{"by":"alice-single"}', {"Content-Type": "application/json",
                                                                        "Authorization": f"Bearer {user(relay, ALICE)}"})
        assert status == 202
        got = (await c.expect_event(topic, "broadcast"))["payload"]
        assert got["event"] == "single" and got["payload"] == {"by": "alice-single"}
        await c.assert_silent(0.5, lambda m: m["event"] == "broadcast")
    run(body())


# -- retention ------------------------------------------------------------------------------

def test_retention_drops_old_partitions(db, relay_factory):
    """At start the relay runs realtime.maintain_messages: partitions past
    --message-retention-hours go (with their messages), recent ones stay, coming days are made."""
    db.execute("SELECT realtime._create_message_partition((timezone('UTC', now()) - interval '10 days')::date)")
    old = db.scalar("SELECT to_char(timezone('UTC', now()) - interval '10 days', 'YYYY_MM_DD')")
    keep = db.scalar("SELECT to_char(timezone('UTC', now()) - interval '1 day', 'YYYY_MM_DD')")

    def partitions():
        return {r[0] for r in db.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                                       "WHERE i.inhparent = 'realtime.messages'::regclass")}

    assert f"messages_{old}" in partitions()
    relay = relay_factory(db_dsn=db.dsn, args=["--message-retention-hours", "48"])
    wait_until(lambda: f"messages_{old}" not in partitions(), timeout=20, what="the old partition dropped")
    assert f"messages_{keep}" in partitions()
    wait_until(lambda: relay.metrics().get("realtime_message_maintenance_total", 0) >= 1, timeout=10,
               what="the maintenance counted")
    assert f"dropped realtime.messages_{old}" in relay.log_text()


# -- request.headers ------------------------------------------------------------------------

HEADER_POLICY = """
CREATE POLICY "header read {t}" ON realtime.messages FOR SELECT TO authenticated
  USING ((SELECT realtime.topic()) = '{t}'
         AND current_setting('request.headers', true)::jsonb ->> 'x-client-info' = 'app/1.0'
         AND current_setting('request.headers', true)::jsonb ->> 'x-forwarded-for' = '10.0.0.7'
         AND NOT (current_setting('request.headers', true)::jsonb ? 'x-not-listed'));
CREATE POLICY "header write {t}" ON realtime.messages FOR INSERT TO authenticated
  WITH CHECK ((SELECT realtime.topic()) = '{t}'
              AND current_setting('request.headers', true)::jsonb ->> 'x-client-info' = 'app/1.0');
"""


def test_policies_read_the_request_headers(relay_db):
    """The upgrade request's --policy-headers (default x-client-info, x-forwarded-for,
    x-real-ip; names in any case) are request.headers for a join's checks, the HTTP
    request's for a private HTTP broadcast; headers not listed are not passed."""
    db, relay = relay_db
    topic = unique_topic()
    db.execute(HEADER_POLICY.format(t=name_of(topic)))
    sent = {"X-Client-Info": "app/1.0", "x-forwarded-for": "10.0.0.7", "x-not-listed": "1"}

    async def body():
        c = await PhoenixClient.open(relay, "2.0.0", token=user(relay, ALICE), extra_headers=sent)
        reply = await c.join(topic, private(self=True, ack=True))
        assert reply["status"] == "ok", reply
        ref = await c.broadcast(topic, "e", {"n": 1})
        assert (await c.reply(ref, topic))["payload"]["status"] == "ok"
        assert (await c.expect_event(topic, "broadcast"))["payload"]["payload"] == {"n": 1}
        bare = await PhoenixClient.open(relay, "2.0.0", token=user(relay, ALICE))
        assert await bare.join(topic, private()) == refusal(topic)
        path = f"/api/broadcast/{name_of(topic)}/events/single?private=true"
        auth = {"Content-Type": "application/json", "Authorization": f"Bearer {user(relay, ALICE)}"}
        status, answer = relay.http(path, "POST", b'{"by":"http-bare"}', auth)
        assert (status, answer) == (403, {"message": "Unauthorized"})
        status, _ = relay.http(path, "POST", b'{"by":"http"}', dict(auth, **{"x-client-info": "app/1.0"}))
        assert status == 202
        got = (await c.expect_event(topic, "broadcast"))["payload"]
        assert got["payload"] == {"by": "http"}
    run(body())
