"""JWTs for tests: HS256/384/512 with the standard library, and RS256, ES256 and EdDSA
with keys generated here (python3-cryptography), published as a JWKS file the relay
reads with --jwt-jwks."""
import base64
import hashlib
import hmac
import json
import os
import tempfile
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

DEFAULT_SECRET = "test-secret-with-at-least-32-characters"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(n: int, size=None) -> str:
    return _b64(n.to_bytes(size or (n.bit_length() + 7) // 8, "big"))


def claims_of(role="anon", exp_in=3600, **claims):
    """The claims object; exp_in None leaves exp out, role None leaves role out."""
    body = dict(claims)
    if role is not None:
        body["role"] = role
    if exp_in is not None:
        body["exp"] = int(time.time()) + exp_in
    return body


def claims_in(token):
    """The claims a token carries (its signature not checked)."""
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def _text(value):
    return value if isinstance(value, str) else json.dumps(value)


def sign_hs(header, claims, secret, alg="HS256"):
    """A token MACed with secret (str or bytes); header and claims are dicts or JSON
    text (text lets a test write what json.dumps would not, e.g. a repeated name)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{_b64(_text(header).encode())}.{_b64(_text(claims).encode())}"
    key = secret.encode() if isinstance(secret, str) else secret
    sig = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(sig)}"


def make_token(secret=DEFAULT_SECRET, role="anon", exp_in=3600, alg="HS256", **claims):
    """A signed HS token; exp_in None leaves exp out, role None leaves role out."""
    return sign_hs({"alg": alg, "typ": "JWT"}, claims_of(role, exp_in, **claims), secret, alg)


class SigningKey:
    """A generated key pair for alg RS256, ES256 or EdDSA, with its public JWK."""

    def __init__(self, alg="RS256", kid="key-1"):
        self.alg, self.kid = alg, kid
        if alg == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
        elif alg == "EdDSA":
            self.private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(alg)

    def jwk(self, **extra):
        """The public key as a JWK, with kid and extra members."""
        pub = self.private.public_key()
        if self.alg == "RS256":
            n = pub.public_numbers()
            key = {"kty": "RSA", "n": _int_b64(n.n), "e": _int_b64(n.e)}
        elif self.alg == "ES256":
            n = pub.public_numbers()
            key = {"kty": "EC", "crv": "P-256", "x": _int_b64(n.x, 32), "y": _int_b64(n.y, 32)}
        else:
            raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            key = {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}
        if self.kid is not None:
            key["kid"] = self.kid
        key.update(extra)
        return key

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, data: bytes) -> bytes:
        """The JWS signature of data (ECDSA as r || s, not DER)."""
        if self.alg == "RS256":
            return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if self.alg == "ES256":
            r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self.private.sign(data)

    def token(self, role="anon", exp_in=3600, kid="default", claims_text=None, **claims):
        """A token signed by this key; kid "default" is the key's own, None leaves it out."""
        header = {"alg": self.alg, "typ": "JWT"}
        kid = self.kid if kid == "default" else kid
        if kid is not None:
            header["kid"] = kid
        body = claims_text if claims_text is not None else _text(claims_of(role, exp_in, **claims))
        signing_input = f"{_b64(_text(header).encode())}.{_b64(body.encode())}"
        return f"{signing_input}.{_b64(self.sign(signing_input.encode()))}"


def write_jwks(path, keys, atomic=True):
    """Writes the public JWKs of keys (SigningKeys or JWK dicts) to path: atomically
    (a new file renamed over the old, as a key rotation should) or in place."""
    text = json.dumps({"keys": [k.jwk() if isinstance(k, SigningKey) else k for k in keys]})
    write_text(path, text, atomic)


def write_text(path, text, atomic=True):
    if not atomic:
        with open(path, "w") as f:
            f.write(text)
        return
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".jwks-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
