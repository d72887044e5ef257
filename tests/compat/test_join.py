"""Joining a channel, as Supabase's RealtimeChannel.join/3 and Phoenix's socket answer it
(lib/realtime_web/channels/realtime_channel.ex, channels/payloads/*.ex): degenerate
configs are tolerated, join errors carry Supabase's `Code: message` reasons, a second
join of a joined topic closes the old channel first (even when the new join fails), and
the join_ref of later pushes is not checked."""
import pytest

from support.jwt import make_token
from support.phoenix import PhoenixClient, join_config, run, unique_topic

from .helpers import open_joined, push_as


def test_topic_name_required(relay, vsn):
    """authorization_test "handle empty topic by closing the socket"."""
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        assert await c.join("realtime:") == {"status": "error", "response": {
            "reason": "TopicNameRequired: You must provide a topic name"}}
        assert (await c.heartbeat())["status"] == "ok"
    run(body())


@pytest.mark.parametrize("config", [
    {"broadcast": {"ack": "a", "self": "b"}, "presence": {"enabled": "no"}, "private": "yes"},
    {"broadcast": {"ack": 1, "self": []}, "presence": {"enabled": {}, "key": "k"}},
    {"postgres_changes": {"event": "test"}},
], ids=["bad-booleans", "bad-types", "postgres-changes-a-map"])
def test_unparsable_config_joins_with_defaults(relay, vsn, config):
    """join_test "invalid nested configurations returns errors", "rejects invalid boolean
    strings": RealtimeChannel logs InvalidJoinPayload and joins with the fields it could
    parse (here none: ack, self, presence off, public); a postgres_changes that is not a
    list means no bindings (pg_change_params/5)."""
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        other = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        assert (await c.join(topic, config))["status"] == "ok"
        assert (await other.join(topic))["status"] == "ok"
        ref = await c.broadcast(topic, "probe", {"n": 1})
        got = await other.expect_event(topic, "broadcast")  # a public channel: it is delivered
        assert got["payload"]["payload"] == {"n": 1}
        # No ack reply, no own echo (self false), no presence_state.
        await c.assert_silent(0.5, lambda m: m["topic"] == topic)
        assert ref
    run(body())


def test_string_booleans_any_case(relay, vsn):
    """flexible_boolean_test "casts string 'true' in any case", join_test "accepts string
    'True' for boolean fields"."""
    async def body():
        c, topic = await open_joined(relay, vsn, {"broadcast": {"self": "True", "ack": "TRUE"},
                                                  "presence": {"enabled": "tRuE", "key": "k"},
                                                  "private": "False"})
        assert (await c.expect_event(topic, "presence_state"))["payload"] == {}
        ref = await c.broadcast(topic, "e", {"n": 1})
        assert (await c.reply(ref, topic))["payload"] == {"status": "ok", "response": {}}
        assert (await c.expect_event(topic, "broadcast"))["payload"]["payload"] == {"n": 1}
    run(body())


def test_presence_key_may_be_a_number(relay, vsn):
    """join_test "presence key can be number"."""
    async def body():
        c, topic = await open_joined(relay, vsn, {"presence": {"enabled": True, "key": 123}})
        await c.expect_event(topic, "presence_state")
        assert (await c.track(topic, {"n": 1}))["status"] == "ok"
        diff = (await c.expect_event(topic, "presence_diff"))["payload"]
        assert list(diff["joins"]) == ["123"]
    run(body())


@pytest.mark.parametrize("changes", [[None], None, [None, None]], ids=["list-of-null", "null", "nulls"])
def test_null_postgres_changes_tolerated(relay, vsn, changes):
    """postgres_changes_test "handle nil postgres changes params as empty param changes",
    join_test "handles postgres changes with nil value in array as empty array", "handles
    postgres changes as nil as empty array": nulls are dropped, the join is OK with no
    bindings and no "Subscribed to PostgreSQL" (even on a relay without a database)."""
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        config = dict(join_config(self=True), postgres_changes=changes)
        assert await c.join(topic, config) == {"status": "ok", "response": {"postgres_changes": []}}
        await c.broadcast(topic, "alive", {})
        assert (await c.expect_event(topic, "broadcast"))["payload"]["event"] == "alive"
        assert not [m for m in c.inbox if m["event"] == "system"]
    run(body())


JOIN_TOKEN_ERRORS = {
    # case: (access_token maker, exact reason, or a prefix when it ends with "...")
    "malformed": (lambda r: "potato", "MalformedJWT: The token provided is not a valid JWT"),
    "bad-signature": (lambda r: make_token("some-other-secret-of-enough-length-0123", role="authenticated"),
                      "JwtSignatureError: Failed to validate JWT signature"),
    "expired": (lambda r: r.token(role="authenticated", exp_in=-30), "InvalidJWTToken: Token has expired ..."),
    "no-role": (lambda r: r.token(role=None), "InvalidJWTToken: Fields `role` and `exp` are required in JWT"),
    "no-exp": (lambda r: r.token(role="authenticated", exp_in=None),
               "InvalidJWTToken: Fields `role` and `exp` are required in JWT"),
}


def check_reason(reply, expected):
    assert reply["status"] == "error", reply
    reason = reply["response"]["reason"]
    if expected.endswith("..."):
        assert reason.startswith(expected[:-3]) and reason.endswith(" seconds ago"), reason
    else:
        assert reason == expected, reason


@pytest.mark.parametrize("case", list(JOIN_TOKEN_ERRORS))
def test_join_token_errors(relay, vsn, case):
    """token_handling_test "token expires in between joins", "token loses claims in between
    joins", "token is badly formatted in between joins"; realtime_channel_test
    "access_token has expired", "access_token missing exp claim on join", "access_token
    missing role claim on join"; realtime_channel.ex join/3 (signature_error ->
    JwtSignatureError)."""
    make, expected = JOIN_TOKEN_ERRORS[case]

    async def body():
        c = await PhoenixClient.open(relay, vsn)
        check_reason(await c.join(unique_topic(), access_token=make(relay)), expected)
        assert (await c.heartbeat())["status"] == "ok"
    run(body())


@pytest.mark.parametrize("case", list(JOIN_TOKEN_ERRORS))
def test_failed_rejoin_closes_the_joined_channel(relay, vsn, case):
    """The same token_handling_test cases, on a topic already joined: Phoenix shuts the
    joined channel down (phx_close under its join_ref) before it handles the new join,
    so the failed rejoin leaves the topic not joined."""
    make, expected = JOIN_TOKEN_ERRORS[case]

    async def body():
        c, topic = await open_joined(relay, vsn)
        first_ref = c.join_refs[topic]
        sender, _ = await open_joined(relay, vsn, topic=topic)
        check_reason(await c.join(topic, access_token=make(relay)), expected)
        close = await c.expect_event(topic, "phx_close")
        assert close["ref"] == first_ref, close
        await sender.broadcast(topic, "after", {})
        await c.assert_silent(0.5, lambda m: m["topic"] == topic and m["event"] == "broadcast")
    run(body())


def test_rejoin_closes_the_old_channel_once(relay, vsn):
    """A successful second join: one phx_close under the first join_ref, then the reply."""
    async def body():
        c, topic = await open_joined(relay, vsn)
        first_ref = c.join_refs[topic]
        assert (await c.join(topic))["status"] == "ok"
        closes = [m for m in c.inbox if m["event"] == "phx_close" and m["topic"] == topic]
        assert [m["ref"] for m in closes] == [first_ref], c.inbox
    run(body())


def test_sb_api_key_as_join_token_is_ignored(relay, vsn):
    """token_handling_test "handles connection with valid api-header but ignorable
    access_token payload", realtime_channel_test "join with access_token starting with
    sb_", "join with user_token starting with sb_": the socket's token is used instead."""
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        for field in ("access_token", "user_token"):
            topic = unique_topic()
            c.join_refs[topic] = ref = c.next_ref()
            await c.push(topic, "phx_join", {"config": join_config(), field: "sb_publishable_-fake_key"},
                         join_ref=ref, ref=ref)
            assert (await c.reply(ref, topic))["payload"]["status"] == "ok", field
    run(body())


def test_user_token_is_the_join_token(relay, vsn):
    """realtime_channel_test "join with user_token": user_token stands for access_token."""
    async def body():
        c = await PhoenixClient.open(relay, vsn)
        topic = unique_topic()
        c.join_refs[topic] = ref = c.next_ref()
        payload = {"config": join_config(), "user_token": relay.token(role="authenticated", exp_in=-30)}
        await c.push(topic, "phx_join", payload, join_ref=ref, ref=ref)
        check_reason((await c.reply(ref, topic))["payload"], "InvalidJWTToken: Token has expired ...")
    run(body())


def test_stale_or_missing_join_ref_accepted(relay, vsn):
    """connection_lifecycle_test "join_ref leniency": a presence track and an acknowledged
    broadcast pushed with another join_ref, or none, are still handled and replied to.
    (Supabase's test tracks with "TRACK": event case is test_presence's concern.)"""
    async def body():
        c, topic = await open_joined(relay, vsn, join_config(self=True, ack=True, presence=True))
        await c.expect_event(topic, "presence_state")
        for ref, join_ref in (("1001", "some-other-join-ref"), ("1002", None)):
            track = {"type": "presence", "event": "track", "payload": {"name": ref}}
            await push_as(c, topic, "presence", track, ref, join_ref)
            assert (await c.reply(ref, topic))["payload"]["status"] == "ok"
            await c.expect_event(topic, "presence_diff")
        for ref, join_ref in (("2001", "some-other-join-ref"), ("2002", None)):
            msg = {"type": "broadcast", "event": "TEST", "payload": {"msg": ref}}
            await push_as(c, topic, "broadcast", msg, ref, join_ref)
            assert (await c.reply(ref, topic))["payload"] == {"status": "ok", "response": {}}
            got = await c.expect_event(topic, "broadcast")
            assert got["payload"] == msg
    run(body())


def test_token_with_unknown_role_can_join_public_channels(relay, vsn):
    """A role the database does not have matters only where Postgres is asked (private
    channels, Postgres Changes): Supabase checks nothing else for a public join."""
    async def body():
        c = await PhoenixClient.open(relay, vsn, token=make_token(relay.secret, role="potato"))
        assert (await c.join(unique_topic()))["status"] == "ok"
    run(body())
