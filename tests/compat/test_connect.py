"""Connecting, as Supabase's UserSocket answers it (lib/realtime_web/channels/user_socket.ex,
connect/3 and handle_error/2; test/realtime_web/channels/user_socket_test.exs,
test/integration/rt_channel/connection_lifecycle_test.exs, token_handling_test.exs):
a refused upgrade is an HTTP error with a JSON body {"error": ...}; exp and iat must be
numbers (JSON allows decimals, which are accepted)."""
import time

import pytest

from support.jwt import make_token
from support.phoenix import PhoenixClient, run

REFUSED = {
    # case: (token maker, status, error)
    "missing": (lambda r: None, 401, "API key is missing"),
    "malformed": (lambda r: "not-a-jwt", 401, "The token provided is not a valid JWT"),
    "expired": (lambda r: r.token(exp_in=-1000), 401, "Token has expired"),
    "no-role": (lambda r: r.token(role=None), 401, "Fields `role` and `exp` are required in JWT"),
    "no-exp": (lambda r: r.token(exp_in=None), 401, "Fields `role` and `exp` are required in JWT"),
    "bad-signature": (lambda r: make_token("some-other-secret-of-enough-length-0123"), 401,
                      "Failed to validate JWT signature"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_upgrade_is_json(relay, case):
    make, status, error = REFUSED[case]
    token = make(relay)
    got, body, headers = relay.upgrade(f"apikey={token}&vsn=2.0.0" if token else "vsn=2.0.0", with_headers=True)
    assert (got, body) == (status, {"error": error})
    assert headers["content-type"].startswith("application/json"), headers


def test_decimal_exp_and_iat_accepted(relay):
    """JWT NumericDate may be a decimal: Supabase rounds it (jwt_verification.ex) and
    accepts the token, at connect and as a join's access_token (realtime_channel_test
    "access_token has exp and iat in decimal format")."""
    now = time.time()
    token = make_token(relay.secret, role="authenticated", exp_in=None, exp=now + 100.99, iat=now - 100.99)

    async def body():
        c = await PhoenixClient.open(relay, "2.0.0", token=token)
        assert (await c.heartbeat())["status"] == "ok"
        assert (await c.join("realtime:decimal", access_token=token))["status"] == "ok"
    run(body())


@pytest.mark.parametrize("claims", [
    {"exp": str(int(time.time()) + 1000)},
    {"exp": int(time.time()) + 1000, "iat": str(int(time.time()))},
], ids=["exp-string", "iat-string"])
def test_exp_or_iat_as_string_refused(relay, claims):
    """jwt_verification_test "rejects token with future exp encoded as a string", "rejects
    token with iat encoded as a string": a claim that is not a number is invalid."""
    token = make_token(relay.secret, role="anon", exp_in=None, **claims)
    status, body = relay.upgrade(f"apikey={token}&vsn=2.0.0")
    assert 400 <= status < 500 and status != 404, (status, body)
    assert isinstance(body, dict) and body.get("error"), body
