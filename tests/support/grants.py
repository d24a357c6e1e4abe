"""Mint access grants in tests, with `cryptography` only: a key pair, its JWK, signed tokens.

Deliberately independent of gateway/tokens/grants.py, so a test that mints with this and
verifies with the emulator (or the gateway) checks two implementations against each other.
It can also mint what no issuer ever should (alg none, tampered, foreign keys) on purpose.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

GRANT_TYPE = "olp-grant+jwt"
QR_PREFIX = "OLPG1:"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _part(value: object) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


@dataclass
class TestIssuer:
    """One signing key of a test network (`kid`, Ed25519) and the grants it signs."""

    issuer: str = "openlocker-test"
    kid: str = field(default_factory=lambda: f"test-{secrets.token_hex(4)}")
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    __test__ = False  # not a pytest test class

    @property
    def jwk(self) -> dict[str, str]:
        """The public JWK, as a SetKeySet carries it."""
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), "kid": self.kid, "alg": "EdDSA"}

    @property
    def private_jwk(self) -> dict[str, str]:
        """The JWK with its private member `d`: what must never reach a locker."""
        raw = self.key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return {**self.jwk, "d": b64url(raw)}

    def key_set(self, version: int, *others: TestIssuer) -> dict[str, Any]:
        """A SetKeySet payload holding this key (and `others`, as during a rotation)."""
        return {
            "version": version,
            "issuer": self.issuer,
            "keys": [self.jwk, *(o.jwk for o in others)],
        }

    def claims(
        self,
        *,
        locker: str,
        cmp: str,
        act: str = "deposit",
        sub: str = "parcel-uid-1",
        ttl: int = 600,
        nbf: int | None = None,
        now: float | None = None,
        jti: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        issued = int(now if now is not None else time.time())
        return {
            "iss": self.issuer,
            "aud": locker,
            "sub": sub,
            "cmp": cmp,
            "act": act,
            "nbf": issued if nbf is None else nbf,
            "exp": issued + ttl,
            "iat": issued,
            "jti": jti or b64url(secrets.token_bytes(16)),
            **extra,
        }

    def sign(self, claims: dict[str, Any], *, header: dict[str, Any] | None = None) -> str:
        """A compact JWS of `claims` (header overridable to mint bad tokens on purpose)."""
        head = (
            header if header is not None else {"alg": "EdDSA", "typ": GRANT_TYPE, "kid": self.kid}
        )
        signing_input = f"{_part(head)}.{_part(claims)}"
        return f"{signing_input}.{b64url(self.key.sign(signing_input.encode('ascii')))}"

    def grant(self, **claims: Any) -> str:
        """A valid grant for `claims` (see `claims()` for the defaults)."""
        return self.sign(self.claims(**claims))


def unsigned(claims: dict[str, Any], kid: str) -> str:
    """An `alg: none` token (RFC 7519 "unsecured JWT"): must never open anything."""
    return f"{_part({'alg': 'none', 'typ': GRANT_TYPE, 'kid': kid})}.{_part(claims)}."


def tamper(token: str, **changes: Any) -> str:
    """The token with its claims changed but the old signature kept."""
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return f"{head}.{_part({**claims, **changes})}.{signature}"


@dataclass
class TestRoot:
    """A network root key (SPEC §9 "Signed key sets"): what lockers pin, and the signer of
    SetKeySet payloads, written from the SPEC with `cryptography` only."""

    kid: str = field(default_factory=lambda: f"root-{secrets.token_hex(4)}")
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)

    __test__ = False  # not a pytest test class

    @property
    def jwk(self) -> dict[str, str]:
        """The public JWK a locker is provisioned with."""
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), "kid": self.kid, "alg": "EdDSA"}

    def detached(self, typ: str, signed: object) -> str:
        """`header..signature` over RFC 8785 JSON of `signed`."""
        header = _jcs_part({"alg": "EdDSA", "kid": self.kid, "typ": typ})
        signing_input = f"{header}.{_jcs_part(signed)}"
        return f"{header}..{b64url(self.key.sign(signing_input.encode('ascii')))}"

    def sign(self, payload: dict[str, Any], locker: str) -> dict[str, Any]:
        """The SetKeySet payload signed for `locker`."""
        signed = {k: payload[k] for k in ("issuer", "keys", "version")} | {"lockerId": locker}
        return {**payload, "signature": self.detached("olp-keyset+jws", signed)}

    def endorse(self, successor: TestRoot) -> dict[str, Any]:
        """A `rootKeys` link: `successor` announced by this root."""
        claim = {"key": successor.jwk, "previous": self.kid}
        return {"jwk": successor.jwk, "endorsement": self.detached("olp-root+jws", claim)}


def _jcs_part(value: object) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return b64url(canonical.encode())
