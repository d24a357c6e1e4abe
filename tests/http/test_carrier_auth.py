"""Carrier authentication: only fresh, single-use tokens signed by the carrier's own key pass."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx

from gateway.app import Gateway
from tests.http.conftest import NETWORK, Site, settings_for
from tests.support.carriers import TestCarrier


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


async def refused(site: Site, token: str | None, reason: str) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = await site.client.get("/v1/lockers", headers=headers)
    assert response.status_code == 401, response.text
    problem = response.json()
    assert problem["code"] == "SecurityError"
    assert reason in problem["detail"], problem["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # The server keeps serving after every refusal.
    assert (await site.get("/v1/lockers")).status_code == 200


async def test_valid_tokens_of_both_algorithms_pass(site: Site) -> None:
    assert (await site.get("/v1/lockers", carrier=site.acme)).status_code == 200
    assert (await site.get("/v1/lockers", carrier=site.globex)).status_code == 200


async def test_missing_and_malformed_headers(site: Site) -> None:
    await refused(site, None, "missing Authorization")
    response = await site.client.get("/v1/lockers", headers={"Authorization": "Basic abc"})
    assert response.status_code == 401
    await refused(site, "not-a-jwt", "malformed token")


async def test_forged_signature(site: Site) -> None:
    impostor = TestCarrier.ed25519("acme", NETWORK)  # same iss and kid, other private key
    await refused(site, impostor.token(), "Signature verification failed")


async def test_tampered_payload(site: Site) -> None:
    header, payload, signature = site.acme.token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["iss"] = "globex"
    await refused(site, f"{header}.{b64(json.dumps(claims).encode())}.{signature}", "")


async def test_expired_token(site: Site) -> None:
    await refused(site, site.acme.token(iat=time.time() - 600, lifetime=120), "expired")


async def test_token_issued_in_the_future(site: Site) -> None:
    await refused(site, site.acme.token(iat=time.time() + 600), "")


async def test_lifetime_over_five_minutes(site: Site) -> None:
    await refused(site, site.acme.token(lifetime=301 + 30), "lifetime exceeds 300")


async def test_wrong_audience(site: Site) -> None:
    await refused(site, site.acme.token(overrides={"aud": "other-network"}), "audience")


async def test_unknown_issuer(site: Site) -> None:
    stranger = TestCarrier.ed25519("nobody", NETWORK)
    await refused(site, stranger.token(), "unknown issuer")


async def test_missing_jti(site: Site) -> None:
    await refused(site, site.acme.token(overrides={"jti": None}), "jti")


async def test_alg_none(site: Site) -> None:
    header = b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    claims = {
        "iss": "acme",
        "aud": NETWORK,
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "jti": "abcdefgh12345678",
    }
    await refused(site, f"{header}.{b64(json.dumps(claims).encode())}.", "'none' refused")


async def test_hs256_keyed_with_the_public_key(site: Site) -> None:
    # The classic confusion attack: HMAC with the carrier's *public* key as the secret.
    public = json.dumps(site.acme.public_jwk).encode()
    claims = {
        "iss": "acme",
        "aud": NETWORK,
        "iat": int(time.time()),
        "exp": int(time.time()) + 60,
        "jti": "abcdefgh12345679",
    }
    # Signed by hand: PyJWT itself refuses to use a JWK as an HMAC secret.
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    forged = f"{signing_input}.{b64(mac)}"
    await refused(site, forged, "'HS256' refused")


async def test_key_of_the_wrong_type_for_the_algorithm(site: Site) -> None:
    # globex registered a P-256 key; a token claiming EdDSA with its kid finds no key.
    mismatched = TestCarrier.ed25519("globex", NETWORK, kid="e1")
    await refused(site, mismatched.token(), "no registered key matches")


async def test_oversized_token(site: Site) -> None:
    token = site.acme.token(overrides={"pad": "x" * 5_000})
    await refused(site, token, "longer than")


async def test_replayed_token_is_refused(site: Site) -> None:
    token = site.acme.token()
    ok = await site.client.get("/v1/lockers", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200
    await refused(site, token, "replayed")


async def test_replay_is_refused_across_a_restart(database_url: str) -> None:
    acme = TestCarrier.ed25519("acme", NETWORK)
    token = acme.token()
    headers = {"Authorization": f"Bearer {token}"}
    async with Gateway(settings=settings_for(database_url)) as first:
        await first.carriers.register("acme", acme.jwks)
        async with httpx.AsyncClient(base_url=first.base_url) as client:
            assert (await client.get("/v1/lockers", headers=headers)).status_code == 200
    async with (
        Gateway(settings=settings_for(database_url)) as second,
        httpx.AsyncClient(base_url=second.base_url) as client,
    ):
        again = await client.get("/v1/lockers", headers=headers)
    assert again.status_code == 401
    assert "replayed" in again.json()["detail"]


async def test_a_carrier_never_sees_another_carriers_parcel(site: Site) -> None:
    body = {"parcelId": "SECRET-1", "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"}
    assert (await site.post("/v1/parcels", body, key="iso-key-0001")).status_code == 201
    other = site.globex
    assert (await site.get("/v1/parcels/SECRET-1", carrier=other)).status_code == 404
    assert (await site.get("/v1/parcels/SECRET-1/events", carrier=other)).status_code == 404
    cancel = await site.post("/v1/parcels/SECRET-1/cancel", {}, key="iso-key-0002", carrier=other)
    assert cancel.status_code == 404
    listing = (await site.get("/v1/parcels", carrier=other)).json()
    assert listing["items"] == []
    # The same carrier id space is separate: globex may use the same parcel id.
    body_globex = {**body}
    created = await site.post("/v1/parcels", body_globex, key="iso-key-0003", carrier=other)
    assert created.status_code == 201
