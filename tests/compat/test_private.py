"""Private channels (Realtime Authorization), as Supabase runs them (lib/realtime_web/
channels/realtime_channel.ex maybe_assign_policies/3, broadcast_handler.ex,
presence_handler.ex; test/integration/rt_channel/broadcast_test.exs "private broadcast",
presence_test.exs "private presence", authorization_test.exs, token_handling_test.exs
"access token refresh", realtime_channel_test.exs "replay"; the policies are those of
test/support/generators.ex policy_query/2): the user's RLS policies on realtime.messages
decide, per topic and extension, who may join, receive and send."""
import time

import pytest

from support.phoenix import PhoenixClient, join_config, run, unique_topic

from .helpers import closed_with_system_error, open_joined, sub_topic

# Supabase's auth helpers, as the policies of its tests call them.
AUTH = """
CREATE SCHEMA IF NOT EXISTS auth;
CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$;
CREATE OR REPLACE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS
  $$ SELECT nullif(current_setting('request.jwt.claim.role', true), '')::text $$;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;
"""

POLICIES = {
    "read": "FOR SELECT TO authenticated USING (realtime.topic() = '{t}' "
            "AND realtime.messages.extension IN ('presence', 'broadcast'))",
    "write": "FOR INSERT TO authenticated WITH CHECK (realtime.topic() = '{t}' "
             "AND realtime.messages.extension IN ('presence', 'broadcast'))",
    "read_presence": "FOR SELECT TO authenticated USING (realtime.topic() = '{t}' "
                     "AND realtime.messages.extension = 'presence')",
    "write_presence": "FOR INSERT TO authenticated WITH CHECK (realtime.topic() = '{t}' "
                      "AND realtime.messages.extension = 'presence')",
    "read_broadcast_by_claim": "FOR SELECT TO authenticated USING (realtime.topic() = '{t}' "
                               "AND realtime.messages.extension = 'broadcast' AND coalesce(("
                               "current_setting('request.jwt.claims', true)::jsonb ->> 'broadcast_read')::boolean, false))",
    "read_broadcast": "FOR SELECT TO authenticated USING (realtime.topic() = '{t}' "
                      "AND realtime.messages.extension = 'broadcast')",
    "read_presence_by_claim": "FOR SELECT TO authenticated USING (realtime.topic() = '{t}' "
                              "AND realtime.messages.extension = 'presence' AND coalesce(("
                              "current_setting('request.jwt.claims', true)::jsonb ->> 'presence_read')::boolean, false))",
    "read_presence_for_sub": "FOR SELECT TO authenticated USING (realtime.topic() = '{t}' "
                             "AND realtime.messages.extension = 'presence' AND (SELECT auth.uid())::text = '{sub}')",
    "broken_read": "FOR SELECT TO authenticated USING ((SELECT test_log_error()))",
}
SUB = "7b0c1c48-1111-4222-8333-444455556666"


@pytest.fixture
def private_db(test_db):
    test_db.execute(AUTH + """CREATE OR REPLACE FUNCTION test_log_error() RETURNS boolean LANGUAGE plpgsql AS
                              $$ BEGIN RAISE EXCEPTION 'test error'; END $$;""")
    return test_db


@pytest.fixture
def private(private_db, pg_relay):
    """(database, relay, policies(topic, *names))."""
    def policies(topic, *names):
        for n in names:
            private_db.execute(f'CREATE POLICY "{n}_{sub_topic(topic)}" ON realtime.messages '
                               + POLICIES[n].format(t=sub_topic(topic), sub=SUB))
    return private_db, pg_relay, policies


def private_config(**kw):
    return join_config(private=True, **kw)


def auth_token(relay, **claims):
    return relay.token(role="authenticated", **claims)


def test_no_read_permission_is_unauthorized(private, vsn):
    """broadcast_test "private broadcast with valid channel and no read permissions won't
    join"; authorization_test "handle failing rls policy" (a policy that raises)."""
    db, relay, policies = private

    async def body():
        c = await PhoenixClient.open(relay, vsn, token=auth_token(relay))
        for names in ((), ("broken_read",)):
            topic = unique_topic()
            policies(topic, *names)
            assert await c.join(topic, private_config()) == {"status": "error", "response": {
                "reason": f"Unauthorized: You do not have permissions to read from this Channel topic: {sub_topic(topic)}"}}
    run(body())


def test_read_and_write_permissions(private, vsn):
    """broadcast_test "private broadcast with valid channel with permissions sends message";
    presence_test "private presence with read and write permissions will be able to track
    and receive presence changes"."""
    db, relay, policies = private

    async def body():
        topic = unique_topic()
        policies(topic, "read", "write")
        c, _ = await open_joined(relay, vsn, private_config(self=True, ack=True, presence=True), topic=topic,
                                 token=auth_token(relay))
        await c.expect_event(topic, "presence_state")
        ref = await c.broadcast(topic, "TEST", {"msg": 1})
        assert (await c.reply(ref, topic))["payload"]["status"] == "ok"
        assert (await c.expect_event(topic, "broadcast"))["payload"]["payload"] == {"msg": 1}
        assert (await c.track(topic, {"name": "realtime_presence_96"}))["status"] == "ok"
        d = (await c.expect_event(topic, "presence_diff"))["payload"]
        assert [m["name"] for k in d["joins"] for m in d["joins"][k]["metas"]] == ["realtime_presence_96"]
    run(body())


def test_read_only_receives_but_cannot_send(private, vsn):
    """broadcast_test "private broadcast with valid channel no write permissions won't send
    message but will receive message" (service_role bypasses RLS; the denied send gets no
    reply even with ack); presence_test "... with read permissions ... won't be able to
    track" (no diff)."""
    db, relay, policies = private

    async def body():
        topic = unique_topic()
        policies(topic, "read")
        admin, _ = await open_joined(relay, vsn, private_config(self=True), topic=topic,
                                     token=relay.token(role="service_role"))
        user, _ = await open_joined(relay, vsn, private_config(self=True, ack=True, presence=True), topic=topic,
                                    token=auth_token(relay))
        ref = await user.broadcast(topic, "TEST", {"from": "user"})
        await admin.assert_silent(0.7, lambda m: m["event"] == "broadcast")
        assert not [m for m in user.inbox if m["event"] == "phx_reply" and m["ref"] == ref]
        await admin.broadcast(topic, "TEST", {"from": "admin"})
        for c in (admin, user):
            assert (await c.expect_event(topic, "broadcast"))["payload"]["payload"] == {"from": "admin"}
        ref = await user.push(topic, "presence", {"type": "presence", "event": "track", "payload": {"x": 1}})
        await user.assert_silent(0.7, lambda m: m["event"] == "presence_diff")
        assert ref
    run(body())


def test_presence_only_permissions_never_see_broadcasts(private, vsn):
    """presence_test "private presence with presence only permissions can join, track and
    never sees broadcasts": either read grant is enough to join."""
    db, relay, policies = private

    async def body():
        topic = unique_topic()
        policies(topic, "read_presence", "write_presence")
        user, _ = await open_joined(relay, vsn, private_config(presence=True, key="authenticated"), topic=topic,
                                    token=auth_token(relay))
        await user.expect_event(topic, "presence_state")
        admin, _ = await open_joined(relay, vsn, private_config(), topic=topic, token=relay.token(role="service_role"))
        assert (await user.track(topic, {"name": "p"}))["status"] == "ok"
        d = (await user.expect_event(topic, "presence_diff"))["payload"]
        assert d["joins"]["authenticated"]["metas"][0]["name"] == "p"
        await user.broadcast(topic, "TEST", {})      # write denied: the admin never sees it
        await admin.broadcast(topic, "TEST", {})     # read denied: the user never sees it
        await user.assert_silent(0.7, lambda m: m["event"] == "broadcast")
        await admin.assert_silent(0.3, lambda m: m["event"] == "broadcast")
    run(body())


def test_public_and_private_channels_of_one_name_are_apart(private, vsn):
    """broadcast_test "private broadcast with valid channel a colon character sends message
    and won't intercept in public channels" (Tenants.tenant_topic/3 keeps them apart)."""
    db, relay, policies = private

    async def body():
        topic = unique_topic()
        policies(topic, "read", "write")
        priv, _ = await open_joined(relay, vsn, private_config(self=True), topic=topic, token=auth_token(relay))
        pub, _ = await open_joined(relay, vsn, join_config(), topic=topic)
        await priv.broadcast(topic, "TEST", {"msg": 1})
        await priv.expect_event(topic, "broadcast")
        await pub.assert_silent(0.5, lambda m: m["event"] == "broadcast")
        db.execute("SELECT realtime.send('{}'::jsonb, 'from-sql', %s, true)", (sub_topic(topic),))
        assert (await priv.expect_event(topic, "broadcast", timeout=15))["payload"]["event"] == "from-sql"
        await pub.assert_silent(0.5, lambda m: m["event"] == "broadcast")
    run(body())


def test_refresh_that_loses_read_closes_the_channel(private, vsn):
    """token_handling_test "on new access_token and channel is private policies are
    reevaluated for read policy"."""
    db, relay, policies = private

    async def body():
        topic = unique_topic()
        policies(topic, "read", "write")
        c, _ = await open_joined(relay, vsn, private_config(), topic=topic, token=auth_token(relay))
        await c.push(topic, "access_token", {"access_token": relay.token(role="anon")})
        message = await closed_with_system_error(c, topic)
        assert message == f"You do not have permissions to read from this Channel topic: {sub_topic(topic)}"
    run(body())


def test_refresh_that_grants_broadcast_read_starts_delivery(private, vsn):
    """presence_test "starts receiving broadcasts when broadcast read permission is granted
    on new access_token"."""
    db, relay, policies = private

    async def body():
        topic = unique_topic()
        policies(topic, "read_presence", "write_presence", "read_broadcast_by_claim")
        user, _ = await open_joined(relay, vsn, private_config(presence=True, key="authenticated"), topic=topic,
                                    token=auth_token(relay, broadcast_read=False))
        admin, _ = await open_joined(relay, vsn, private_config(), topic=topic, token=relay.token(role="service_role"))
        await admin.broadcast(topic, "TEST", {"n": 1})
        await user.assert_silent(0.5, lambda m: m["event"] == "broadcast")
        await user.push(topic, "access_token", {"access_token": auth_token(relay, broadcast_read=True, exp_in=7200)})
        await user.assert_silent(0.5, lambda m: m["event"] == "phx_close")
        await admin.broadcast(topic, "TEST", {"n": 2})
        assert (await user.expect_event(topic, "broadcast"))["payload"]["payload"] == {"n": 2}
    run(body())


def test_refresh_that_revokes_a_granted_read_closes_the_channel(private, vsn):
    """realtime_channel_test "disconnects when only presence read permission is revoked on
    new access_token"; presence_test "disconnects when presence read permission changes
    from true to false on new access_token"."""
    db, relay, policies = private

    async def body():
        topic = unique_topic()
        policies(topic, "read_broadcast", "write", "read_presence_by_claim")
        c, _ = await open_joined(relay, vsn, private_config(presence=True), topic=topic,
                                 token=auth_token(relay, presence_read=True))
        await c.expect_event(topic, "presence_state")
        await c.push(topic, "access_token", {"access_token": auth_token(relay, presence_read=False, exp_in=7200)})
        message = await closed_with_system_error(c, topic)
        assert message == f"You no longer have permission to read from this Channel topic: {sub_topic(topic)}"
    run(body())


def test_refresh_that_loses_write_drops_sends(private, vsn):
    """token_handling_test "on new access_token and channel is private policies are
    reevaluated for write policy": after the policy change and a new token, the
    channel's broadcasts are not delivered (and the channel stays)."""
    db, relay, policies = private

    async def body():
        topic = unique_topic()
        policies(topic, "read", "write")
        c, _ = await open_joined(relay, vsn, private_config(self=True), topic=topic, token=auth_token(relay))
        await c.broadcast(topic, "TEST", {"n": 1})
        await c.expect_event(topic, "broadcast")
        db.execute(f'DROP POLICY "write_{sub_topic(topic)}" ON realtime.messages')
        await c.push(topic, "access_token", {"access_token": auth_token(relay, sub=SUB, exp_in=7200)})
        await c.broadcast(topic, "TEST", {"n": 2})
        await c.assert_silent(1.5, lambda m: m["event"] in ("broadcast", "phx_close"))
    run(body())


def test_presence_diff_withheld_without_presence_read(private, vsn):
    """presence_test "presence_diff is withheld from a member denied presence.read": both
    may join (broadcast read is enough); only the one with presence read gets
    presence_state and the diff of what the other tracks."""
    db, relay, policies = private

    async def body():
        topic = unique_topic()
        policies(topic, "read_broadcast", "write", "read_presence_for_sub")
        other, _ = await open_joined(relay, vsn, private_config(presence=True), topic=topic,
                                     token=auth_token(relay, sub="00000000-0000-4000-8000-000000000000"))
        main, _ = await open_joined(relay, vsn, private_config(presence=True), topic=topic,
                                    token=auth_token(relay, sub=SUB))
        await main.expect_event(topic, "presence_state")
        assert (await main.track(topic, {"test": "should not go to other"}))["status"] == "ok"
        d = (await main.expect_event(topic, "presence_diff"))["payload"]
        assert [m["test"] for k in d["joins"] for m in d["joins"][k]["metas"]] == ["should not go to other"]
        await other.assert_silent(1, lambda m: m["event"] in ("presence_state", "presence_diff"))
    run(body())


def replay_config(since, limit):
    return dict(private_config(), broadcast={"replay": {"since": since, "limit": limit}})


def test_replay_on_join(private, vsn):
    """realtime_channel_test "replay messages on private topic"; broadcast_test "replays
    binary and json messages in insertion order", "binary messages are skipped on V1
    sockets"; e2e "replayed messages carry meta.replayed flag", "messages before since
    are not replayed"."""
    db, relay, policies = private

    async def body():
        topic = unique_topic()
        policies(topic, "read")
        name = sub_topic(topic)
        db.execute("SELECT realtime.send('{\"value\": \"old\"}'::jsonb, 'old', %s, true)", (name,))
        since = int(time.time() * 1000) + 1000
        time.sleep(1.5)
        for event in ("first", "second", "third"):
            db.execute("SELECT realtime.send(jsonb_build_object('value', %s), %s, %s, true)", (event, event, name))
        db.execute("SELECT realtime.send_binary('\\x010203'::bytea, 'bin', %s, true)", (name,))
        c, _ = await open_joined(relay, vsn, replay_config(since, 3), topic=topic, token=auth_token(relay))
        got = []
        while len(got) < (3 if vsn == "2.0.0" else 2):
            m = await c.expect_event(topic, "broadcast", timeout=15)
            got.append(m)
        for m in got:
            assert m["payload"]["meta"]["replayed"] is True and m["payload"]["meta"]["id"]
        events = [m["payload"]["event"] for m in got]
        # The 3 newest since `since`, oldest first; 1.0.0 cannot take the binary one.
        assert events == (["second", "third", "bin"] if vsn == "2.0.0" else ["second", "third"]), events
        if vsn == "2.0.0":
            assert got[-1]["raw_payload"] == b"\x01\x02\x03"
        await c.assert_silent(0.5, lambda m: m["event"] == "broadcast")
    run(body())


@pytest.mark.parametrize("config,reason", [
    (dict(join_config(), broadcast={"replay": {"since": 0, "limit": 2}}),
     "UnableToReplayMessages: Replay is not allowed for public channels"),
    (dict(private_config(), broadcast={"replay": {"since": 0, "limit": "not a number"}}),
     "UnableToReplayMessages: Replay params are not valid"),
    (dict(private_config(), broadcast={"replay": {"since": "not a number", "limit": 1}}),
     "UnableToReplayMessages: Replay params are not valid"),
], ids=["public", "bad-limit", "bad-since"])
def test_replay_refusals(private, vsn, config, reason):
    """realtime_channel_test "replay messages on public topic not allowed", "wrong replay params"."""
    db, relay, policies = private

    async def body():
        topic = unique_topic()
        policies(topic, "read")
        c = await PhoenixClient.open(relay, vsn, token=auth_token(relay))
        assert await c.join(topic, config) == {"status": "error", "response": {"reason": reason}}
    run(body())


def test_broadcast_changes_trigger(private, vsn):
    """broadcast_test "broadcast insert/update/delete event changes on insert in table with
    trigger"; e2e "authenticated user receives INSERT/UPDATE/DELETE broadcast change"."""
    db, relay, policies = private
    db.execute("""
        CREATE TABLE public.bc (id serial PRIMARY KEY, details text);
        CREATE FUNCTION bc_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
          PERFORM realtime.broadcast_changes('bc-' || current_database(), TG_OP, TG_OP, TG_TABLE_NAME,
                                             TG_TABLE_SCHEMA, NEW, OLD, TG_LEVEL);
          RETURN NULL; END $$;
        CREATE TRIGGER bc AFTER INSERT OR UPDATE OR DELETE ON public.bc FOR EACH ROW EXECUTE FUNCTION bc_trigger();""")
    topic = f"realtime:bc-{db.name}"

    async def body():
        policies(topic, "read")
        c, _ = await open_joined(relay, vsn, private_config(), topic=topic, token=auth_token(relay))
        db.execute("INSERT INTO bc (details) VALUES ('v1')")
        db.execute("UPDATE bc SET details = 'v2'")
        db.execute("DELETE FROM bc")
        expected = [("INSERT", {"id": 1, "details": "v1"}, None), ("UPDATE", {"id": 1, "details": "v2"},
                    {"id": 1, "details": "v1"}), ("DELETE", None, {"id": 1, "details": "v2"})]
        for op, record, old in expected:
            m = (await c.expect_event(topic, "broadcast", timeout=15))["payload"]
            assert m["event"] == op
            p = m["payload"]
            assert (p["operation"], p["schema"], p["table"], p["record"], p["old_record"]) == (
                op, "public", "bc", record, old), p
    run(body())


def test_http_private_messages_need_write_permission(private):
    """broadcast_controller_test "user with permission to write a limited set is only able
    to broadcast to said set", "user without permission won't broadcast" (202 either way);
    broadcast_single_controller_test "returns 403 when anon caller has no RLS write policy"."""
    db, relay, policies = private

    async def body():
        allowed, denied = unique_topic(), unique_topic()
        policies(allowed, "read", "write")
        policies(denied, "read")
        admin_token = relay.token(role="service_role")
        a, _ = await open_joined(relay, "2.0.0", private_config(), topic=allowed, token=admin_token)
        d, _ = await open_joined(relay, "2.0.0", private_config(), topic=denied, token=admin_token)
        msgs = [{"topic": sub_topic(t), "event": "e", "payload": {"t": t}, "private": True} for t in (allowed, denied)]
        status, _ = relay.broadcast_http(msgs, token=auth_token(relay))
        assert status == 202
        assert (await a.expect_event(allowed, "broadcast"))["payload"]["payload"] == {"t": allowed}
        await d.assert_silent(0.5, lambda m: m["event"] == "broadcast")
        status, resp = relay.http(f"/api/broadcast/{sub_topic(denied)}/events/e?private=true", "POST", b"{}",
                                  {"Content-Type": "application/json", "Authorization": f"Bearer {auth_token(relay)}"})
        assert (status, resp) == (403, {"message": "Unauthorized"})
    run(body())


def test_private_only_refuses_public_joins(private_db, relay_factory, vsn):
    """authorization_test "user with only private channels enabled will not be able to join
    public channels" (the tenant's private_only; here --private-only)."""
    relay = relay_factory(db_dsn=private_db.dsn, args=["--private-only"]).wait_slot()

    async def body():
        c = await PhoenixClient.open(relay, vsn, token=auth_token(relay))
        assert await c.join(unique_topic(), join_config()) == {"status": "error", "response": {
            "reason": "PrivateOnly: This project only allows private channels"}}
    run(body())
