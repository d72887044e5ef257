"""Asymmetric JWTs through a real relay: RS256, ES256 and EdDSA tokens, signed by keys
generated here, verified with the keys of a --jwt-jwks file at connect, at join, on
access_token and by the HTTP API; the file rotated without a restart; the refusals
(unknown kid, another key, algorithm confusion) as clients see them."""
import json
import os

import pytest

from support.jwt import SigningKey, claims_of, sign_hs, write_jwks, write_text
from support.pg import wait_until
from support.phoenix import PhoenixClient, join_config, run, unique_topic

ALGS = ["RS256", "ES256", "EdDSA"]
NO_SIGNER = "Failed to generate JWT signer, check your JWT secret or JWKS configuration"


def no_signer_for(kid):
    return f'Failed to generate JWT signer for key ID (kid) "{kid}", check your JWT secret or JWKS configuration'


@pytest.fixture
def jwks_path(tmp_path):
    return str(tmp_path / "jwks.json")


def jwks_relay(relay_factory, path, keys, secret=None, **kwargs):
    """A relay verifying tokens with the JWKS file at path holding keys (and secret, if given)."""
    write_jwks(path, keys)
    return relay_factory(secret=secret, args=["--jwt-jwks", path], **kwargs)


def accepts(relay, token):
    return relay.upgrade(f"apikey={token}&vsn=2.0.0") == (101, None)


@pytest.mark.parametrize("alg", ALGS)
def test_asymmetric_token_at_connect_join_and_refresh(relay_factory, jwks_path, alg):
    key = SigningKey(alg, kid=f"{alg.lower()}-1")
    relay = jwks_relay(relay_factory, jwks_path, [key])

    async def body():
        c = await PhoenixClient.open(relay, "2.0.0", token=key.token(role="anon", sub="socket-user"))
        assert (await c.heartbeat())["status"] == "ok"
        topic = unique_topic()
        # A join with its own token of the same key, then a refresh with another one.
        reply = await c.join(topic, join_config(self=True), access_token=key.token(role="authenticated", sub="u2"))
        assert reply["status"] == "ok", reply
        ref = await c.push(topic, "access_token", {"access_token": key.token(role="authenticated", exp_in=7200)})
        await c.broadcast(topic, "after-refresh", {"n": 1})
        got = await c.expect_event(topic, "broadcast")
        assert got["payload"]["event"] == "after-refresh"
        assert not [m for m in c.inbox if m["ref"] == ref or m["event"] in ("system", "phx_close")]

        # Joins with a token of no key of the file, or a kid the file does not have.
        impostor = SigningKey(alg, kid=key.kid)
        reply = await c.join(unique_topic(), access_token=impostor.token())
        assert reply["response"]["reason"] == "JwtSignatureError: Failed to validate JWT signature"
        reply = await c.join(unique_topic(), access_token=key.token(kid="not-in-the-file"))
        assert reply["response"]["reason"] == "JwtSignerError: " + no_signer_for("not-in-the-file")

        # A refresh with the impostor's token closes that channel only.
        await c.push(topic, "access_token", {"access_token": impostor.token()})
        msg = await c.expect_event(topic, "system")
        assert msg["payload"]["message"] == "Failed to validate JWT signature"
        await c.expect_event(topic, "phx_close")
        assert (await c.heartbeat())["status"] == "ok"
        await c.close()
    run(body())

    # The REST API takes the same tokens.
    status, _ = relay.broadcast_http([{"topic": "room", "event": "e", "payload": {}}], token=key.token())
    assert status == 202
    status, body_ = relay.broadcast_http([{"topic": "room", "event": "e", "payload": {}}],
                                         token=SigningKey(alg, kid=key.kid).token())
    assert (status, body_) == (401, {"message": "Unauthorized"})


def test_token_without_kid_uses_the_only_key_of_its_type(relay_factory, jwks_path):
    rsa, ed = SigningKey("RS256", kid="r"), SigningKey("EdDSA", kid="e")
    relay = jwks_relay(relay_factory, jwks_path, [rsa, ed])
    assert accepts(relay, rsa.token(kid=None))
    assert accepts(relay, ed.token(kid=None))
    # Two Ed25519 keys: which one a kid-less token means is not known.
    write_jwks(jwks_path, [rsa, ed, SigningKey("EdDSA", kid="e2")])
    wait_until(lambda: relay.upgrade(f"apikey={ed.token(kid=None)}")[0] == 401, timeout=20,
               what="the relay to load the JWKS with a second Ed25519 key")
    assert relay.upgrade(f"apikey={ed.token(kid=None)}") == (401, {"error": NO_SIGNER})
    assert accepts(relay, ed.token())


def test_rotated_jwks_file_is_picked_up_without_restart(relay_factory, jwks_path):
    old, new = SigningKey("ES256", kid="2025-01"), SigningKey("EdDSA", kid="2025-02")
    relay = jwks_relay(relay_factory, jwks_path, [old])
    pid = relay.proc.pid
    assert accepts(relay, old.token())
    assert relay.upgrade(f"apikey={new.token()}") == (401, {"error": no_signer_for("2025-02")})

    # Rotation by rename (the new file replaces the old): both keys, then the new one only.
    write_jwks(jwks_path, [old, new])
    wait_until(lambda: accepts(relay, new.token()), timeout=20, what="the new key to be accepted")
    assert accepts(relay, old.token())
    # In place this time (the same inode, rewritten).
    write_jwks(jwks_path, [new], atomic=False)
    wait_until(lambda: not accepts(relay, old.token()), timeout=20, what="the old key to be dropped")
    assert relay.upgrade(f"apikey={old.token()}") == (401, {"error": no_signer_for("2025-01")})
    assert accepts(relay, new.token())

    # A broken file keeps the keys in use, and says why.
    write_text(jwks_path, '{"keys": [')
    wait_until(lambda: "keeping the 1 keys loaded before" in relay.log_text(), timeout=20,
               what="the relay to log the broken JWKS file")
    assert accepts(relay, new.token())
    os.unlink(jwks_path)
    wait_until(lambda: "cannot open it" in relay.log_text(), timeout=20, what="the relay to log the missing file")
    assert accepts(relay, new.token())
    # Back with a key: used again.
    newer = SigningKey("RS256", kid="2025-03")
    write_jwks(jwks_path, [newer])
    wait_until(lambda: accepts(relay, newer.token()), timeout=20, what="the restored file's key to be accepted")
    assert relay.proc.pid == pid and relay.alive()


def test_removed_key_closes_the_channels_it_let_in(relay_factory, jwks_path):
    """A key taken out of the file no longer vouches for tokens it verified, as Supabase's
    periodic re-check of channel tokens finds: their channels close with the signer
    error, and the socket's token no longer joins. Tokens of the remaining keys go on."""
    old, new = SigningKey("EdDSA", kid="old"), SigningKey("RS256", kid="new")
    relay = jwks_relay(relay_factory, jwks_path, [old, new])

    async def body():
        c = await PhoenixClient.open(relay, "1.0.0", token=old.token())
        on_old, on_new = unique_topic(), unique_topic()
        assert (await c.join(on_old, join_config(self=True)))["status"] == "ok"
        reply = await c.join(on_new, join_config(self=True), access_token=new.token(role="authenticated"))
        assert reply["status"] == "ok"
        write_jwks(jwks_path, [new])
        msg = await c.expect_event(on_old, "system", timeout=20)
        assert msg["payload"]["status"] == "error"
        assert msg["payload"]["message"] == no_signer_for("old")
        await c.expect_event(on_old, "phx_close")
        # The channel on the remaining key is untouched.
        await c.broadcast(on_new, "still", {})
        assert (await c.expect_event(on_new, "broadcast"))["payload"]["event"] == "still"
        # A join on the socket's (old) token is refused; one with a token of its own is fine.
        reply = await c.join(unique_topic())
        assert reply["response"]["reason"] == "JwtSignerError: " + no_signer_for("old")
        assert (await c.join(unique_topic(), access_token=new.token()))["status"] == "ok"
        await c.close()
    run(body())
    assert relay.upgrade(f"apikey={old.token()}") == (401, {"error": no_signer_for("old")})


def test_secret_and_jwks_together(relay_factory, jwks_path):
    key = SigningKey("RS256", kid="r1")
    relay = jwks_relay(relay_factory, jwks_path, [key], secret="a-secret-for-hs256-tokens-of-32-bytes")
    assert accepts(relay, key.token())
    assert accepts(relay, sign_hs({"alg": "HS256"}, claims_of(), relay.secret))
    # A kid naming no oct key: HS tokens fall back to the secret, as Supabase's do.
    assert accepts(relay, sign_hs({"alg": "HS256", "kid": "legacy"}, claims_of(), relay.secret))


def test_algorithm_confusion_is_refused(relay_factory, jwks_path):
    key = SigningKey("RS256", kid="r1")
    secret = "a-secret-for-hs256-tokens-of-32-bytes"
    relay = jwks_relay(relay_factory, jwks_path, [key], secret=secret)
    jwk_text = json.dumps(key.jwk())
    # HS256 MACed with the public key (PEM, JWK text), naming the RSA key: the public key
    # is never an HMAC key (the secret is tried, and fails).
    for mac_key in (key.public_pem(), jwk_text.encode()):
        for header in ({"alg": "HS256", "kid": "r1"}, {"alg": "HS256"}):
            token = sign_hs(header, claims_of(role="service_role"), mac_key)
            assert relay.upgrade(f"apikey={token}") == (401, {"error": "Failed to validate JWT signature"})
    # RS256 header over an HMAC with the secret: verified as RSA, it fails.
    forged = sign_hs({"alg": "RS256", "kid": "r1"}, claims_of(role="service_role"), secret)
    assert relay.upgrade(f"apikey={forged}") == (401, {"error": "Failed to validate JWT signature"})
    # alg none, with and without a kid.
    for header in ({"alg": "none"}, {"alg": "none", "kid": "r1"}):
        unsigned = sign_hs(header, claims_of(), secret).rsplit(".", 1)[0] + "."
        assert relay.upgrade(f"apikey={unsigned}") == (401, {"error": NO_SIGNER})


def test_jwks_only_relay_refuses_hs_tokens(relay_factory, jwks_path):
    relay = jwks_relay(relay_factory, jwks_path, [SigningKey("EdDSA")])
    token = sign_hs({"alg": "HS256"}, claims_of(), "any-secret-any-secret-any-secret-!")
    assert relay.upgrade(f"apikey={token}") == (401, {"error": NO_SIGNER})
    empty = sign_hs({"alg": "HS256"}, claims_of(), "")
    assert relay.upgrade(f"apikey={empty}") == (401, {"error": NO_SIGNER})


@pytest.mark.parametrize("case", ["missing", "not-json", "no-usable-key"])
def test_unusable_jwks_file_stops_the_relay_at_startup(relay_factory, jwks_path, case):
    if case == "not-json":
        write_text(jwks_path, "not json")
    elif case == "no-usable-key":
        write_text(jwks_path, json.dumps({"keys": [{"kty": "OKP", "crv": "X25519", "x": "AAAA"}]}))
    relay = relay_factory(secret=None, args=["--jwt-jwks", jwks_path], start=False)
    relay.start(wait=False)
    assert relay.proc.wait(timeout=30) == 1
    lines = [line for line in relay.log_text().splitlines() if line.startswith("realtime-relay:")]
    assert len(lines) == 1 and lines[0].startswith(f"realtime-relay: --jwt-jwks {jwks_path}: "), lines


def test_neither_secret_nor_jwks_is_a_usage_error(relay_factory):
    relay = relay_factory(secret=None, start=False)
    relay.start(wait=False)
    assert relay.proc.wait(timeout=30) == 2
    assert "--jwt-secret or --jwt-jwks" in relay.log_text()
