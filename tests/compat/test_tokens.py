"""access_token on a joined channel, as Supabase's RealtimeChannel.handle_in("access_token")
answers it (lib/realtime_web/channels/realtime_channel.ex; token_handling_test.exs,
realtime_channel_test.exs "access_token"): a bad token is a `system` error from the
`system` extension naming the channel, then phx_close; an `sb_...` API key is not a JWT
and is ignored, and the channel's current token keeps its own expiry."""
import pytest

from support.phoenix import run

from .helpers import closed_with_system_error, open_joined

BAD_REFRESH = {
    # case: (token maker, exact message, or a prefix when it ends with "...")
    "no-role": (lambda r: r.token(role=None), "Fields `role` and `exp` are required in JWT"),
    "no-exp": (lambda r: r.token(role="authenticated", exp_in=None), "Fields `role` and `exp` are required in JWT"),
    "expired": (lambda r: r.token(role="authenticated", exp_in=-1000), "Token has expired ..."),
    "empty": (lambda r: "", "The token provided is not a valid JWT"),
    "malformed": (lambda r: "not even a JWT", "The token provided is not a valid JWT"),
}


@pytest.mark.parametrize("case", list(BAD_REFRESH))
def test_bad_access_token_closes_the_channel(relay, vsn, case):
    """token_handling_test "missing claims close connection", "on empty string access_token
    the socket sends an error message", "on expired access_token the socket sends an error
    message"; realtime_channel_test "new broken access_token", "new JWT missing role claim",
    "new JWT missing exp claim", "new expired JWT"."""
    make, expected = BAD_REFRESH[case]

    async def body():
        c, topic = await open_joined(relay, vsn, self=True)
        other, other_topic = await open_joined(relay, vsn, self=True)
        await c.push(topic, "access_token", {"access_token": make(relay)})
        message = await closed_with_system_error(c, topic)
        if expected.endswith("..."):
            assert message.startswith(expected[:-3]) and message.endswith(" seconds ago"), message
        else:
            assert message == expected
        # The socket and other channels live on.
        assert (await c.heartbeat())["status"] == "ok"
        await other.broadcast(other_topic, "alive", {})
        await other.expect_event(other_topic, "broadcast")
    run(body())


def test_sb_api_key_refresh_ignored_and_expiry_kept(relay, vsn):
    """token_handling_test "on sb prefixed access_token the socket ignores the message and
    respects JWT expiry time": no reply and no system message for "sb_publishable_...",
    and the channel is still closed when its own token expires."""
    async def body():
        c, topic = await open_joined(relay, vsn, token=relay.token(role="authenticated", exp_in=4))
        await c.push(topic, "access_token", {"access_token": "sb_publishable_-fake_key"})
        await c.assert_silent(1, lambda m: m["topic"] == topic)
        message = await closed_with_system_error(c, topic, timeout=15)
        assert message.startswith("Token has expired"), message
    run(body())
