"""Private channels (Realtime Authorization), as Supabase runs them (lib/realtime_web/
channels/realtime_channel.ex maybe_assign_policies/3, broadcast_handler.ex,
presence_handler.ex; test/integration/rt_channel/broadcast_test.exs "private broadcast",
presence_test.exs "private presence", authorization_test.exs, token_handling_test.exs
"access token refresh", realtime_channel_test.exs "replay"; the policies are those of
test/support/generators.ex policy_query/2): the user's RLS policies on realtime.messages
decide, per topic and extension, who may join, receive and send."""
import pytest

from support.phoenix import PhoenixClient, join_config, run, unique_topic

from .helpers import sub_topic

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
