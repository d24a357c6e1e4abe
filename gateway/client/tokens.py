"""Carrier request tokens (SPEC §7), minted from the carrier's own private key."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

__all__ = [
    "MAX_LIFETIME_S",
    "PrivateKey",
    "algorithm_of",
    "load_private_key",
    "mint_carrier_token",
    "public_jwks",
]

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
MAX_LIFETIME_S = 300  # SPEC §7: `exp` at most 300 s after `iat`


def algorithm_of(key: PrivateKey) -> str:
    """EdDSA for Ed25519, ES256 for P-256; the gateway takes nothing else."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    if isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ValueError(f"carrier keys are Ed25519 or P-256, not {key.curve.name}")


def load_private_key(
    source: bytes | str | Mapping[str, Any], *, password: bytes | None = None
) -> PrivateKey:
    """The carrier's private key from PEM (PKCS#8 or SEC1) or from a private JWK (`d`)."""
    if isinstance(source, Mapping):
        key: Any = jwt.PyJWK.from_dict(dict(source)).key
    else:
        data = source.encode() if isinstance(source, str) else source
        key = serialization.load_pem_private_key(data, password=password)
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("not a private key (a JWK needs `d`; PEM a PRIVATE KEY block)")
    algorithm_of(key)  # refuses curves the gateway does not take
    return key


def public_jwks(key: PrivateKey, kid: str) -> dict[str, Any]:
    """The JWK Set the network operator registers for the carrier (`openlocker carrier add`)."""
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        text = jwt.algorithms.OKPAlgorithm.to_jwk(public)
    else:
        text = jwt.algorithms.ECAlgorithm.to_jwk(public)
    jwk: dict[str, Any] = json.loads(text)
    jwk.update(kid=kid, use="sig", alg=algorithm_of(key))
    return {"keys": [jwk]}


def mint_carrier_token(
    key: PrivateKey,
    *,
    carrier_id: str,
    audience: str,
    kid: str,
    lifetime_s: int = 120,
    now: float | None = None,
) -> str:
    """A fresh single-use token: `iss` the carrier, `aud` the network, a new `jti` each time."""
    if not 0 < lifetime_s <= MAX_LIFETIME_S:
        raise ValueError(f"a carrier token lives 1..{MAX_LIFETIME_S} s")
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": carrier_id,
        "aud": audience,
        "iat": issued,
        "exp": issued + lifetime_s,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, key, algorithm=algorithm_of(key), headers={"kid": kid})
