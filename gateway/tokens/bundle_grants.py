"""Bundle grants: one compact JWS (EdDSA, `typ: olp-bundle-grant+jwt`) for many doors.

Pure: no I/O. A bundle grant opens, once, every listed compartment of one locker for one
action (SPEC.md, section "Bundles"). Its `typ` differs from a one-door grant's on purpose:
a locker that does not know bundle grants refuses it (`bad_type`) instead of opening one door.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.domain.grants import GrantAction
from gateway.tokens.grants import MAX_ISSUED_CHARS, b64url

BUNDLE_GRANT_TYPE = "olp-bundle-grant+jwt"


class BundleGrantTooLarge(ValueError):
    """The grant would not fit a QR code (too many doors, or long compartment codes)."""


@dataclass(frozen=True, slots=True)
class BundleGrantClaims:
    """The claims of a bundle grant; `sub` is the bundle's opaque uid, never personal data."""

    iss: str
    aud: str
    sub: str
    cmps: tuple[str, ...]
    act: GrantAction
    nbf: datetime
    exp: datetime
    iat: datetime
    jti: str

    def to_json(self) -> dict[str, Any]:
        return {
            "iss": self.iss,
            "aud": self.aud,
            "sub": self.sub,
            "cmps": list(self.cmps),
            "act": self.act.value,
            "nbf": int(self.nbf.timestamp()),
            "exp": int(self.exp.timestamp()),
            "iat": int(self.iat.timestamp()),
            "jti": self.jti,
        }


def door_jti(jti: str, compartment_code: str) -> str:
    """The key of one door's record of a bundle grant (`grants.jti`): a `/` never appears in
    a grant's own jti (base64url), so a door's key can never be a one-door grant's."""
    return f"{jti}/{compartment_code}"


def encode_bundle_grant(claims: BundleGrantClaims, *, kid: str, key: Ed25519PrivateKey) -> str:
    """The compact JWS of `claims`, signed with `key`; BundleGrantTooLarge past the QR limit."""
    header = {"alg": "EdDSA", "kid": kid, "typ": BUNDLE_GRANT_TYPE}
    signing_input = f"{b64url(_compact(header))}.{b64url(_compact(claims.to_json()))}"
    token = f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"
    if len(token) > MAX_ISSUED_CHARS:
        raise BundleGrantTooLarge(
            f"a grant for {len(claims.cmps)} doors takes {len(token)} characters, more than "
            f"the {MAX_ISSUED_CHARS} a QR code holds"
        )
    return token


def _compact(value: dict[str, Any]) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
