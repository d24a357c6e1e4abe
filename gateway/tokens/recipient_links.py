"""Recipient self-service links: a compact JWS (EdDSA, `typ: olp-recipient+jwt`) naming one
parcel, signed with the network's key, valid for a short while.

Pure: no I/O. The token carries no personal data and grants only what the self-service page
offers for that one parcel (see gateway/service/self_service.py); its own `typ` keeps it from
ever passing for an access grant or a webhook signature (RFC 8725 §3.11).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.errors import AuthenticationFailed

RECIPIENT_TOKEN_TYPE = "olp-recipient+jwt"  # noqa: S105 - a JWS type, not a secret
ALGORITHM = "EdDSA"
MAX_TOKEN_CHARS = 1024
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
__all__ = ["RECIPIENT_TOKEN_TYPE", "RecipientClaims", "sign_recipient_token", "verify"]


@dataclass(frozen=True, slots=True)
class RecipientClaims:
    issuer: str  # the network id
    parcel_uid: str
    issued_at: datetime
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_recipient_token(claims: RecipientClaims, *, kid: str, key: Ed25519PrivateKey) -> str:
    header = {"alg": ALGORITHM, "kid": kid, "typ": RECIPIENT_TOKEN_TYPE}
    body = {
        "iss": claims.issuer,
        "aud": claims.issuer,
        "sub": claims.parcel_uid,
        "iat": int(claims.issued_at.timestamp()),
        "exp": int(claims.expires_at.timestamp()),
    }
    signing_input = f"{_b64(_json(header))}.{_b64(_json(body))}"
    return f"{signing_input}.{_b64(key.sign(signing_input.encode('ascii')))}"


def verify(
    token: str, *, keys: Mapping[str, Ed25519PublicKey], issuer: str, now: datetime
) -> RecipientClaims:
    """The token's claims, or AuthenticationFailed (SecurityError) saying which check failed.

    Algorithm and type are checked before a key is looked up, so a token never chooses how it
    is verified; `exp` has no leeway: a link that ran out asks for a new one.
    """
    if len(token) > MAX_TOKEN_CHARS or not _TOKEN.match(token):
        raise _refused("malformed", "the link's token is malformed")
    head_b64, body_b64, sig_b64 = token.split(".")
    try:
        header = json.loads(_unb64(head_b64))
        body = json.loads(_unb64(body_b64))
        signature = _unb64(sig_b64)
    except (ValueError, binascii.Error):
        raise _refused("malformed", "the link's token is malformed") from None
    if not isinstance(header, dict) or not isinstance(body, dict):
        raise _refused("malformed", "the link's token is malformed")
    if header.get("alg") != ALGORITHM:
        raise _refused("bad_algorithm", "the link's token uses an algorithm not accepted")
    if header.get("typ") != RECIPIENT_TOKEN_TYPE:
        raise _refused("bad_type", "this token is not a self-service link")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise _refused("unknown_kid", "the link was signed with a key this network no longer has")
    try:
        key.verify(signature, f"{head_b64}.{body_b64}".encode("ascii"))
    except InvalidSignature:
        raise _refused("bad_signature", "the link's signature does not verify") from None
    if body.get("iss") != issuer or body.get("aud") != issuer:
        raise _refused("wrong_issuer", "the link was issued by another network")
    sub, iat, exp = body.get("sub"), body.get("iat"), body.get("exp")
    if not isinstance(sub, str) or not sub or not isinstance(iat, int) or not _is_int(exp):
        raise _refused("malformed", "the link's token lacks a claim")
    if not isinstance(exp, int) or isinstance(iat, bool):
        raise _refused("malformed", "the link's token lacks a claim")
    try:
        expires_at = datetime.fromtimestamp(exp, UTC)
        issued_at = datetime.fromtimestamp(iat, UTC)
    except (OverflowError, OSError, ValueError):
        raise _refused("malformed", "the link's token has an impossible time") from None
    if now >= expires_at:
        raise _refused("expired", "the link has expired; ask the carrier for a new one")
    return RecipientClaims(issuer, sub, issued_at, expires_at)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def _refused(reason: str, description: str) -> AuthenticationFailed:
    return AuthenticationFailed(description, details={"reason": reason})
