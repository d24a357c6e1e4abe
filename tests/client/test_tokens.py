"""Carrier keys and tokens: loaded from PEM or JWK, registered, accepted by a real gateway."""

from __future__ import annotations

import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gateway.client import CarrierClient, load_private_key, mint_carrier_token, public_jwks
from tests.client.conftest import QUICK
from tests.http.conftest import NETWORK, Site


def pem(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


async def test_keys_from_pem_and_jwk_sign_tokens_the_gateway_accepts(site: Site) -> None:
    ed_key = load_private_key(pem(ed25519.Ed25519PrivateKey.generate()).decode())
    p256 = ec.generate_private_key(ec.SECP256R1())
    private_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(p256))
    ec_key = load_private_key(private_jwk)
    for carrier_id, key in (("initech", ed_key), ("umbrella", ec_key)):
        await site.gateway.carriers.register(carrier_id, public_jwks(key, "k9"), carrier_id)
        async with CarrierClient(
            site.gateway.base_url,
            carrier_id=carrier_id,
            private_key=key,
            kid="k9",
            audience=NETWORK,
            retry=QUICK,
        ) as client:
            assert len((await client.list_lockers()).items) == 2
            header = jwt.get_unverified_header(client.token())
            assert header["alg"] == ("EdDSA" if key is ed_key else "ES256")


def test_what_the_gateway_would_refuse_is_refused_here() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError, match="Ed25519 or P-256"):
        load_private_key(pem(p384))
    public_only = json.loads(
        jwt.algorithms.OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate().public_key())
    )
    with pytest.raises(ValueError, match="not a private key"):
        load_private_key(public_only)
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(ValueError, match=r"1\.\.300"):
        mint_carrier_token(key, carrier_id="acme", audience="net", kid="k1", lifetime_s=301)
    token = mint_carrier_token(key, carrier_id="acme", audience="net", kid="k1", now=1000)
    claims = jwt.decode(
        token, key.public_key(), algorithms=["EdDSA"], audience="net", options={"verify_exp": False}
    )
    assert (claims["iss"], claims["iat"], claims["exp"]) == ("acme", 1000, 1120)
    assert (
        claims["jti"]
        != jwt.decode(
            mint_carrier_token(key, carrier_id="acme", audience="net", kid="k1", now=1000),
            options={"verify_signature": False},
        )["jti"]
    )
