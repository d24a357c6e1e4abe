"""Bundle grants through the emulated locker: one signed grant opens every door of a bundle,
offline, and each door moves its own parcel; the grant opens once."""

from __future__ import annotations

import base64
import json
from typing import Any

from locker_emulator.grants import Refusal

from gateway.domain.audit import AuditAction
from gateway.domain.door import OpenPurpose
from gateway.sdk import DoorOpened, GrantUse
from gateway.service.audit import AuditService
from gateway.tokens.bundle_grants import door_jti
from tests.e2e.conftest import LOCKER, Site
from tests.e2e.test_offline_grants import broker_down, broker_up, keyed


def claims_of(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return claims


async def _book(site: Site, bundle_id: str, *sizes: str) -> list[str]:
    parcels = [{"parcelId": f"{bundle_id}-{i}", "sizeClass": s} for i, s in enumerate(sizes)]
    body = {"bundleId": bundle_id, "lockerId": LOCKER, "parcels": parcels}
    response = await site.post("/v1/bundles", body, key=f"bundle-{bundle_id}")
    assert response.status_code == 201, response.text
    return [p["compartmentCode"] for p in response.json()["parcels"]]


async def _grant(site: Site, bundle_id: str, body: Any = None) -> dict[str, Any]:
    response = await site.post(f"/v1/bundles/{bundle_id}/grants", body)
    assert response.status_code == 201, response.text
    site.gateway.spec.validate("bundle-grant", response.json())
    grant: dict[str, Any] = response.json()
    return grant


async def test_one_grant_opens_every_door_of_the_bundle_offline(site: Site) -> None:
    await keyed(site)
    doors = await _book(site, "GB-1", "S", "M")
    deposit = await _grant(site, "GB-1")
    assert (deposit["action"], deposit["compartmentCodes"]) == ("deposit", doors)
    claims = claims_of(deposit["token"])
    site.gateway.spec.validate("bundle-grant-claims", claims)
    assert claims["cmps"] == doors
    assert "cmp" not in claims

    await broker_down(site)  # the locker checks the grant alone
    verdict = site.locker.present_grant(deposit["qr"])
    assert verdict.opened, verdict
    assert verdict.compartment_codes == tuple(doors)
    for door in doors:
        assert site.locker.compartment(door).door == "open"
        site.locker.deposit(door)
    await broker_up(site)
    await site.wait_state("GB-1-0", "ready_for_pickup", 20)
    await site.wait_state("GB-1-1", "ready_for_pickup", 20)
    # Each door of the grant was redeemed on its own, once.
    async with site.gateway.store.transaction() as tx:
        for door in doors:
            record = await tx.grants.get(door_jti(claims["jti"], door))
            assert record is not None
            assert record.redeemed_at is not None
    # Both compartments are full now: the deposit grant suits neither door.
    full = site.locker.present_grant(deposit["token"])
    assert (full.accepted, full.reason) == (False, Refusal.WRONG_ACTION)

    # The pickup grant: the recipient takes one parcel and leaves the other inside.
    pickup = await _grant(site, "GB-1")
    assert pickup["action"] == "pickup"
    assert site.locker.present_grant(pickup["token"]).opened
    site.locker.take(doors[0])
    site.locker.close(doors[1])
    await site.wait_state("GB-1-0", "picked_up", 20)
    await site.processed()
    assert await site.state("GB-1-1") == "ready_for_pickup"
    bundle = (await site.get("/v1/bundles/GB-1")).json()
    assert bundle["state"] == "partially_picked_up"
    # The first door is empty again, so the deposit grant would suit it: it was used once.
    again = site.locker.present_grant(deposit["token"])
    assert (again.accepted, again.reason) == (False, Refusal.REPLAYED)
    assert site.locker.compartment(doors[0]).door == "closed"
    # A new grant names only the door still holding a parcel.
    last = await _grant(site, "GB-1")
    assert (last["parcelIds"], last["compartmentCodes"]) == (["GB-1-1"], [doors[1]])


async def test_a_door_already_emptied_is_skipped_and_a_forged_sub_opens_nothing(
    site: Site,
) -> None:
    await keyed(site)
    doors = await _book(site, "GB-2", "S", "S")
    for door in doors:  # deposited with each parcel's own code
        site.locker.enter_code(
            (await site.post(f"/v1/parcels/GB-2-{doors.index(door)}/codes")).json()["code"]
        )
        await site.locker.wait_door(door, "open")
        site.locker.deposit(door)
    await site.wait_state("GB-2-1", "ready_for_pickup", 20)
    grant = await _grant(site, "GB-2", {"purpose": "pickup"})
    # The first parcel leaves by its own code before the grant is used.
    site.locker.enter_code((await site.post("/v1/parcels/GB-2-0/codes")).json()["code"])
    await site.locker.wait_door(doors[0], "open")
    site.locker.take(doors[0])
    await site.wait_state("GB-2-0", "picked_up", 20)
    opened_before = site.locker.unlock_count(doors[0])

    verdict = site.locker.present_grant(grant["token"])
    assert verdict.opened, verdict
    assert verdict.compartment_codes == (doors[1],)  # the emptied door stays shut
    assert site.locker.unlock_count(doors[0]) == opened_before
    site.locker.take(doors[1])
    await site.wait_state("GB-2-1", "picked_up", 20)
    assert (await site.get("/v1/bundles/GB-2")).json()["state"] == "picked_up"


async def test_a_bundle_grant_with_another_bundles_sub_is_refused_by_the_gateway(
    site: Site,
) -> None:
    """A locker that reports a bundle grant's door under another `sub` moves no parcel."""
    await keyed(site)
    doors = await _book(site, "GB-3", "S")
    grant = await _grant(site, "GB-3")
    jti = claims_of(grant["token"])["jti"]
    forged = DoorOpened(
        locker_id=LOCKER,
        at=site.clock(),
        event_id="forged-bundle-door",
        compartment_code=doors[0],
        grant=GrantUse(jti=jti, purpose=OpenPurpose.DEPOSIT, parcel_uid="another-bundle"),
    )
    await site.gateway.locker_side.host.locker_event(forged)
    refused = await AuditService(store=site.gateway.store).latest(
        1, action=AuditAction.GRANT_REFUSED
    )
    assert refused[0].details["jti"] == jti
    assert await site.state("GB-3-0") == "reserved"
    async with site.gateway.store.transaction() as tx:
        record = await tx.grants.get(door_jti(jti, doors[0]))
    assert record is not None
    assert record.redeemed_at is None
