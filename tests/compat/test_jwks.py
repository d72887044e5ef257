"""Asymmetric JWTs, as Supabase verifies them against the project's JWKS
(lib/realtime_web/channels/auth/jwt_verification.ex generate_signer/3;
jwt_verification_test "using RS256 JWK", "using ES256 JWK", "using EdDSA(Ed25519) JWK",
"... with wrong signature", "returns error when no matching JWK is found for RSA
algorithm", "falls back to jwt_secret when HS256 kid has no matching JWK"; user_socket_test
"display kid on bad signer error"; realtime_channel_test "shuts down with JwtSignerError
when refresh token kid has no matching JWK"). Here the JWKS is the file --jwt-jwks names."""
import base64
import hashlib
import hmac
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from support.phoenix import run

from .helpers import closed_with_system_error, open_joined


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n, size=None):
    return b64(n.to_bytes(size or (n.bit_length() + 7) // 8, "big"))


class Key:
    """A signing key of one kind, its public JWK, and tokens signed with it."""

    def __init__(self, alg, kid):
        self.alg, self.kid = alg, kid
        if alg == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pub = self.private.public_key().public_numbers()
            self.jwk = {"kty": "RSA", "n": uint(pub.n), "e": uint(pub.e)}
        elif alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
            pub = self.private.public_key().public_numbers()
            self.jwk = {"kty": "EC", "crv": "P-256", "x": uint(pub.x, 32), "y": uint(pub.y, 32)}
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()
            raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
        self.jwk.update({"kid": kid, "alg": alg})

    def sign(self, data):
        if self.alg == "RS256":
            return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if self.alg == "ES256":
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self.private.sign(data)

    def token(self, kid=None, exp_in=3600, **claims):
        header = b64(json.dumps({"alg": self.alg, "typ": "JWT", "kid": kid or self.kid}).encode())
        body = b64(json.dumps({"role": "authenticated", "exp": int(time.time()) + exp_in, **claims}).encode())
        return f"{header}.{body}.{b64(self.sign(f'{header}.{body}'.encode()))}"


KINDS = ["RS256", "ES256", "EdDSA"]


@pytest.fixture
def jwks_relay(relay_factory, tmp_path):
    """A relay with an HS256 secret and a JWKS of one key of each kind (and an HS256 JWK)."""
    keys = {alg: Key(alg, f"key-{alg.lower()}") for alg in KINDS}
    oct_secret = b"an-hs256-key-that-only-the-jwks-has"
    jwks = {"keys": [k.jwk for k in keys.values()] + [{"kty": "oct", "kid": "oct-1", "alg": "HS256",
                                                       "k": b64(oct_secret)}]}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    relay = relay_factory(args=["--jwt-jwks", str(path)])
    return relay, keys, oct_secret


def hs256_with_kid(secret, kid):
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps({"role": "authenticated", "exp": int(time.time()) + 3600}).encode())
    key = secret if isinstance(secret, bytes) else secret.encode()
    return f"{header}.{body}.{b64(hmac.new(key, f'{header}.{body}'.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize("alg", KINDS)
def test_asymmetric_tokens_by_kid(jwks_relay, alg):
    relay, keys, _ = jwks_relay
    key = keys[alg]
    status, _ = relay.upgrade(f"apikey={key.token()}&vsn=2.0.0")
    assert status == 101
    forged = Key(alg, key.kid).token()  # the right kid, another key
    assert relay.upgrade(f"apikey={forged}&vsn=2.0.0") == (401, {"error": "Failed to validate JWT signature"})
    unknown = key.token(kid="key-id-1")
    assert relay.upgrade(f"apikey={unknown}&vsn=2.0.0") == (401, {"error": (
        'Failed to generate JWT signer for key ID (kid) "key-id-1", check your JWT secret or JWKS configuration')})


def test_hs256_kid_uses_its_jwk_or_falls_back_to_the_secret(jwks_relay):
    relay, _, oct_secret = jwks_relay
    for token in (hs256_with_kid(oct_secret, "oct-1"), hs256_with_kid(relay.secret, "not-in-the-jwks")):
        status, body = relay.upgrade(f"apikey={token}&vsn=2.0.0")
        assert status == 101, body


def test_refresh_with_an_unknown_kid_closes_the_channel(jwks_relay):
    relay, keys, _ = jwks_relay

    async def body():
        c, topic = await open_joined(relay, "2.0.0", token=keys["RS256"].token())
        await c.push(topic, "access_token", {"access_token": keys["RS256"].token(kid="key-id-1", exp_in=7200)})
        message = await closed_with_system_error(c, topic)
        assert message == ('Failed to generate JWT signer for key ID (kid) "key-id-1", '
                           "check your JWT secret or JWKS configuration")
        assert (await c.heartbeat())["status"] == "ok"
    run(body())


def test_both_kinds_in_one_channel_lifetime(jwks_relay):
    """A socket opened with the HS256 secret's token refreshes to an asymmetric one."""
    relay, keys, _ = jwks_relay

    async def body():
        c, topic = await open_joined(relay, "2.0.0", self=True)
        await c.push(topic, "access_token", {"access_token": keys["ES256"].token(exp_in=7200)})
        await c.broadcast(topic, "still", {})
        assert (await c.expect_event(topic, "broadcast"))["payload"]["event"] == "still"
    run(body())
