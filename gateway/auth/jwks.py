"""Carrier public key sets: only Ed25519 (EdDSA) and P-256 (ES256) public keys are accepted."""

from __future__ import annotations

import json
from typing import Any

import jwt
from jwt.exceptions import PyJWKError, PyJWKSetError

from gateway.errors import FieldIssue, ValidationFailed

# Algorithm allow-list (RFC 8725 §3.1): the key type decides the one algorithm it may verify.
ALGORITHM_FOR_KEY = {("OKP", "Ed25519"): "EdDSA", ("EC", "P-256"): "ES256"}
ALLOWED_ALGORITHMS = tuple(sorted(set(ALGORITHM_FOR_KEY.values())))
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


def validate_carrier_jwks(jwks: Any) -> dict[str, Any]:
    """Check a JWKS a carrier registers; returns it unchanged or raises ValidationFailed."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ValidationFailed(
            "a JWKS is an object with a non-empty `keys` array",
            issues=(FieldIssue("/keys", "required, non-empty array"),),
        )
    kids: set[str] = set()
    for index, key in enumerate(jwks["keys"]):
        pointer = f"/keys/{index}"
        issue = _key_problem(key, kids)
        if issue is not None:
            raise ValidationFailed(f"key {index}: {issue}", issues=(FieldIssue(pointer, issue),))
        kids.add(key["kid"])
    try:
        jwt.PyJWKSet.from_dict(jwks)
    except (PyJWKError, PyJWKSetError) as err:
        raise ValidationFailed(f"JWKS not usable: {err}") from err
    return jwks


def _key_problem(key: Any, kids: set[str]) -> str | None:
    if not isinstance(key, dict):
        return "a key must be a JSON object"
    if any(member in key for member in _PRIVATE_MEMBERS):
        return "private key material must never be registered; send the public key only"
    kind = (key.get("kty"), key.get("crv"))
    if kind not in ALGORITHM_FOR_KEY:
        return "only OKP/Ed25519 (EdDSA) and EC/P-256 (ES256) keys are accepted"
    if "alg" in key and key["alg"] != ALGORITHM_FOR_KEY[kind]:
        return f"`alg` must be {ALGORITHM_FOR_KEY[kind]} for this key type"
    kid = key.get("kid")
    if not isinstance(kid, str) or not 1 <= len(kid) <= 128:
        return "every key needs a `kid` (1..128 characters) so tokens can name it"
    if kid in kids:
        return f"duplicate kid {kid!r}"
    return None


def load_jwks_file(text: str) -> dict[str, Any]:
    """Parse and check a JWKS file's contents (for the CLI)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValidationFailed(f"the JWKS file is not JSON: {err}") from err
    return validate_carrier_jwks(data)
