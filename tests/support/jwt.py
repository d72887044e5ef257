"""HS256 JWTs for tests, made with the standard library only."""
import base64
import hashlib
import hmac
import json
import time

DEFAULT_SECRET = "test-secret-with-at-least-32-characters"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(secret=DEFAULT_SECRET, role="anon", exp_in=3600, alg="HS256", **claims):
    """A signed token; exp_in None leaves exp out, role None leaves role out."""
    body = dict(claims)
    if role is not None:
        body["role"] = role
    if exp_in is not None:
        body["exp"] = int(time.time()) + exp_in
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(body).encode())
    sig = hmac.new(secret.encode(), f"{header}.{payload}".encode(), digest).digest()
    return f"{header}.{payload}.{_b64(sig)}"
