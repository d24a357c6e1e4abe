"""Grants signed by a chosen network key, for the rotation tests."""

from __future__ import annotations

from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.clock import Clock
from gateway.tokens.grants import GrantAction, GrantClaims, encode_grant, new_jti
from gateway.tokens.network_keys import NetworkKeys

NETWORK = "test-net"
LOCKER = "WAW-CENTRAL-01"


def grant_signed_by(kid: str, keys: NetworkKeys, clock: Clock) -> str:
    """A valid pickup grant signed by the published key `kid` (active or not)."""
    record = next(r for r in keys.records() if r.kid == kid)
    private = serialization.load_pem_private_key(record.private_key_pem.encode(), None)
    assert isinstance(private, Ed25519PrivateKey)
    now = clock().replace(microsecond=0)
    claims = GrantClaims(
        iss=NETWORK,
        aud=LOCKER,
        sub="parcel-uid",
        cmp="A01",
        act=GrantAction.PICKUP,
        nbf=now,
        exp=now + timedelta(days=2),
        iat=now,
        jti=new_jti(),
    )
    return encode_grant(claims, kid=kid, key=private)
