"""The network signing key: one per network however many instances start, published as JWKS."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json

import jwt
import pytest

from gateway.store import Store
from gateway.tokens.network_keys import NetworkKeys, b64url
from tests.webhooks.conftest import Hooks


async def test_instances_starting_together_create_one_key(database_url: str) -> None:
    stores = [Store.connect(database_url) for _ in range(4)]
    try:
        await stores[0].migrate()
        keys = [NetworkKeys(store=s) for s in stores]
        await asyncio.gather(*(k.ensure() for k in keys))
        async with stores[0].transaction() as tx:
            rows = await tx.network_keys.active()
    finally:
        for store in stores:
            await store.close()
    assert len(rows) == 1
    assert {k.kid for k in keys} == {rows[0].kid}


async def test_a_restart_keeps_the_key(store: Store) -> None:
    first = NetworkKeys(store=store)
    await first.ensure()
    second = NetworkKeys(store=store)
    await second.ensure()
    assert second.public_jwks() == first.public_jwks()
    assert second.sign_detached(b"{}") == first.sign_detached(b"{}")  # Ed25519: deterministic


async def test_the_detached_signature_verifies_with_the_published_key(store: Store) -> None:
    keys = NetworkKeys(store=store)
    await keys.ensure()
    body = b'{"eventId":"x","parcel":{"parcelId":"\xc5\x81\xc3\xb3d\xc5\xba"}}'

    signature = keys.sign_detached(body)

    header_b64, empty, sig_b64 = signature.split(".")
    assert empty == ""
    padded = header_b64 + "=" * (-len(header_b64) % 4)
    header = json.loads(base64.urlsafe_b64decode(padded))
    assert header == {"alg": "EdDSA", "kid": keys.kid, "typ": "olp-webhook+jws"}
    jwk = jwt.PyJWK.from_dict(keys.public_jwks()["keys"][0])
    token = f"{header_b64}.{b64url(body)}.{sig_b64}"
    assert jwt.PyJWS().decode(token, key=jwk.key, algorithms=["EdDSA"]) == body
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.PyJWS().decode(
            f"{header_b64}.{b64url(body + b' ')}.{sig_b64}", key=jwk.key, algorithms=["EdDSA"]
        )


async def test_unloaded_keys_refuse_to_sign(store: Store) -> None:
    with pytest.raises(RuntimeError, match="ensure"):
        NetworkKeys(store=store).sign_detached(b"{}")


async def test_jwks_is_public_and_holds_no_private_member(hooks: Hooks) -> None:
    answer = await hooks.site.client.get("/.well-known/jwks.json")  # no Authorization header

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/jwk-set+json")
    assert "max-age" in answer.headers["cache-control"]
    (key,) = answer.json()["keys"]
    assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"}
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    # kid is the RFC 7638 thumbprint, so anyone can recompute it from the key itself.
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": key["x"]}, separators=(",", ":"))
    assert key["kid"] == b64url(hashlib.sha256(canonical.encode()).digest())
