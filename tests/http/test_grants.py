"""POST /v1/parcels/{id}/grants: signed grants a locker can verify with the published keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from gateway.app import Gateway
from gateway.domain.audit import AuditAction
from gateway.domain.door import OpenPurpose
from gateway.tokens.grants import GrantAction, GrantVerifier, token_from_qr
from gateway.tokens.network_keys import NetworkKeys, public_key_of
from tests.http.conftest import NETWORK, Site, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock


async def book(site: Site, parcel_id: str, *, reserve: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"parcelId": parcel_id, "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"}
    if not reserve:
        body["reserve"] = False
    answer = await site.post("/v1/parcels", body, key=f"book-{parcel_id}")
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


async def published_verifier(site: Site) -> GrantVerifier:
    """A verifier built only from what the gateway publishes, as a locker would hold it."""
    jwks = (await site.client.get("/.well-known/jwks.json")).json()
    keys = {jwk["kid"]: public_key_of(jwk) for jwk in jwks["keys"]}
    return GrantVerifier(keys=keys, issuer=NETWORK, clock=site.clock)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_a_grant_binds_locker_compartment_action_and_window(site: Site) -> None:
    parcel = await book(site, "GRANT-1")
    # No Idempotency-Key, as for /codes: each call is a new single-use grant.
    answer = await site.client.post("/v1/parcels/GRANT-1/grants", json={}, headers=site.acme.auth())
    assert answer.status_code == 201, answer.text
    grant = answer.json()
    site.spec.validate("access-grant", grant)
    assert grant["action"] == "deposit"
    assert grant["lockerId"] == "WAW-CENTRAL-01"
    assert grant["compartmentCode"] == parcel["compartmentCode"]
    assert grant["kid"] == site.gateway.network_keys.kid
    assert token_from_qr(grant["qr"]) == grant["token"]
    # The deposit window ends with the reservation, to the second.
    reserved_until = at(parcel["reservedUntil"]).replace(microsecond=0)
    assert at(grant["expiresAt"]) == reserved_until
    assert at(grant["notBefore"]) <= site.clock()

    claims = (await published_verifier(site)).verify(
        grant["token"],
        locker_id="WAW-CENTRAL-01",
        compartment_code=grant["compartmentCode"],
        action=GrantAction.DEPOSIT,
    )
    uid = (await site.gateway.parcels.get("acme", "GRANT-1")).uid
    assert claims.sub == uid  # the opaque uid, not the carrier's parcel id
    assert "GRANT-1" not in grant["token"]
    site.spec.validate("olp-grant", claims.to_json())

    async with site.gateway.store.transaction() as tx:
        stored = await tx.grants.get(claims.jti)
        entries = await tx.audit.latest(20)
    assert stored is not None
    assert stored.parcel_uid == uid
    assert stored.action is OpenPurpose.DEPOSIT
    assert stored.redeemed_at is None
    assert stored.expires_at == claims.exp
    issued = [e for e in entries if e.action == AuditAction.GRANT_ISSUED.value]
    assert [e.subject for e in issued] == [uid]
    assert issued[0].actor == "carrier:acme"
    assert issued[0].details["jti"] == claims.jti
    assert grant["token"] not in repr(issued[0].details)


async def test_asking_twice_gives_two_grants(site: Site) -> None:
    await book(site, "GRANT-2")
    jtis = set()
    verifier = await published_verifier(site)
    for _ in range(2):
        answer = await site.client.post(
            "/v1/parcels/GRANT-2/grants", json={}, headers=site.acme.auth()
        )
        assert answer.status_code == 201
        jtis.add(verifier.verify(answer.json()["token"], locker_id="WAW-CENTRAL-01").jti)
    assert len(jtis) == 2


async def test_another_carriers_parcel_is_not_found(site: Site) -> None:
    await book(site, "GRANT-3")
    answer = await site.client.post(
        "/v1/parcels/GRANT-3/grants", json={}, headers=site.globex.auth()
    )
    assert answer.status_code == 404
    assert answer.json()["code"] == "NotFound"
    missing = await site.client.post(
        "/v1/parcels/NO-SUCH/grants", json={}, headers=site.acme.auth()
    )
    assert missing.status_code == 404


async def test_a_parcel_with_no_door_to_open_gets_no_grant(site: Site) -> None:
    await book(site, "GRANT-4", reserve=False)
    answer = await site.client.post("/v1/parcels/GRANT-4/grants", json={}, headers=site.acme.auth())
    assert answer.status_code == 409
    assert answer.json()["code"] == "IllegalTransition"
    uid = (await site.gateway.parcels.get("acme", "GRANT-4")).uid
    async with site.gateway.store.transaction() as tx:
        assert await tx.grants.for_parcel(uid) == []


async def test_bad_requests_are_refused(site: Site) -> None:
    await book(site, "GRANT-5")
    unknown = await site.client.post(
        "/v1/parcels/GRANT-5/grants", json={"lockerId": "X"}, headers=site.acme.auth()
    )
    assert unknown.status_code == 422
    anonymous = await site.client.post("/v1/parcels/GRANT-5/grants", json={})
    assert anonymous.status_code == 401


async def test_a_rotation_publishes_the_new_key_before_it_signs(site: Site) -> None:
    await book(site, "GRANT-6")
    old = site.gateway.network_keys.kid
    new = await site.gateway.network_keys.rotate()  # the default lead: an hour
    jwks = (await site.client.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]} == {old, new.kid}
    first = await site.client.post("/v1/parcels/GRANT-6/grants", json={}, headers=site.acme.auth())
    assert first.json()["kid"] == old
    site.clock.advance(3601)
    later = site.acme.auth(iat=site.clock().timestamp())  # the carrier's clock moved too
    second = await site.client.post("/v1/parcels/GRANT-6/grants", json={}, headers=later)
    assert second.status_code == 201, second.text
    assert second.json()["kid"] == new.kid
    verifier = await published_verifier(site)
    for answer in (first, second):
        verifier.verify(answer.json()["token"], locker_id="WAW-CENTRAL-01")


async def test_the_max_lifetime_caps_the_window(database_url: str) -> None:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    settings = settings_for(database_url, grant_max_lifetime_s=600)
    async with Gateway(settings=settings, clock=clock) as gateway:
        await gateway.carriers.register("acme", carrier.jwks)
        await provision(gateway, "waw-central.yaml")
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=60) as client:
            body = {"parcelId": "GRANT-7", "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"}
            headers = carrier.auth() | {"Idempotency-Key": "book-grant-7"}
            assert (await client.post("/v1/parcels", json=body, headers=headers)).is_success
            answer = await client.post(
                "/v1/parcels/GRANT-7/grants", json={}, headers=carrier.auth()
            )
    assert answer.status_code == 201, answer.text
    window = at(answer.json()["expiresAt"]) - at(answer.json()["notBefore"])
    assert timedelta(seconds=599) <= window <= timedelta(seconds=600)


async def test_a_key_retired_by_another_instance_never_signs_here(site: Site) -> None:
    await book(site, "GRANT-8")
    here = site.gateway.network_keys
    old = here.kid
    # Another instance (its own NetworkKeys on the same database) rotates and retires.
    there = NetworkKeys(
        store=site.gateway.store,
        issuer=NETWORK,
        publish_lead=timedelta(0),
        clock=site.clock,
        keyring=site.gateway.custody.keyring,  # every instance is given the same KEK
    )
    await there.ensure()
    new = await there.rotate()
    await there.retire(old)
    assert here.kid == old  # this instance has not looked yet...
    answer = await site.client.post("/v1/parcels/GRANT-8/grants", json={}, headers=site.acme.auth())
    assert answer.status_code == 201, answer.text
    assert answer.json()["kid"] == new.kid  # ...but issuing a grant does
    verifier = GrantVerifier.for_key_set(here.key_set(), clock=site.clock)
    verifier.verify(answer.json()["token"], locker_id="WAW-CENTRAL-01")
