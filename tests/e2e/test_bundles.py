"""Bundles through the emulated locker: one code opens every door of the bundle, each door
moves its own parcel, and a partial pickup is reported per parcel (bundle webhooks)."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.domain.audit import AuditAction
from gateway.domain.compartment import Compartment
from gateway.service.audit import AuditService
from tests.e2e.conftest import LOCKER, Site, eventually
from tests.webhooks.conftest import FakeCarrier

BUNDLE_EVENTS = ["bundle.partially_picked_up", "bundle.picked_up"]


async def _bundle(site: Site, bundle_id: str) -> dict[str, Any]:
    response = await site.get(f"/v1/bundles/{bundle_id}")
    assert response.status_code == 200, response.text
    site.gateway.spec.validate("bundle", response.json())
    body: dict[str, Any] = response.json()
    return body


async def _code(site: Site, bundle_id: str) -> dict[str, Any]:
    response = await site.post(f"/v1/bundles/{bundle_id}/codes")
    assert response.status_code == 201, response.text
    site.gateway.spec.validate("bundle-code", response.json())
    body: dict[str, Any] = response.json()
    return body


async def _bundle_state(site: Site, bundle_id: str) -> str:
    return str((await _bundle(site, bundle_id))["state"])


async def _book(site: Site, bundle_id: str, *sizes: str) -> list[str]:
    """Books bundle `bundle_id` of parcels `<bundle_id>-A`, `-B`, ... of these sizes at LOCKER;
    returns their compartment codes in order."""
    booked = await site.post(
        "/v1/bundles",
        {
            "bundleId": bundle_id,
            "lockerId": LOCKER,
            "parcels": [
                {"parcelId": f"{bundle_id}-{chr(ord('A') + i)}", "sizeClass": size}
                for i, size in enumerate(sizes)
            ],
        },
        key=f"bundle-{bundle_id.lower()}",
    )
    assert booked.status_code == 201, booked.text
    return [p["compartmentCode"] for p in booked.json()["parcels"]]


async def test_one_code_opens_every_door_and_a_partial_pickup_is_reported_per_parcel(
    site: Site,
) -> None:
    async with FakeCarrier() as receiver:
        hook = await site.post(
            "/v1/webhooks",
            {"url": receiver.url("/bundles"), "events": BUNDLE_EVENTS},
            key="sub-bundles-1",
        )
        assert hook.status_code == 201, hook.text
        every = await site.post("/v1/webhooks", {"url": receiver.url("/all")}, key="sub-all-1")
        assert every.status_code == 201, every.text
        doors = await _book(site, "ORDER-77", "S", "M")
        assert len(set(doors)) == 2

        # The courier's one code opens both reserved compartments.
        deposit = await _code(site, "ORDER-77")
        assert (deposit["purpose"], deposit["compartmentCodes"]) == ("deposit", doors)
        site.locker.enter_code(deposit["code"])
        for door in doors:
            await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
        for door in doors:
            site.locker.deposit(door)
        await eventually(lambda: _bundle_state(site, "ORDER-77"), "ready_for_pickup")

        # The recipient's one code opens both; one parcel is taken, the other left inside.
        pickup = await _code(site, "ORDER-77")
        assert (pickup["purpose"], pickup["parcelIds"]) == ("pickup", ["ORDER-77-A", "ORDER-77-B"])
        site.locker.enter_code(pickup["code"])
        for door in doors:
            await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
        site.locker.take(doors[0])
        site.locker.close(doors[1])
        await site.wait_state("ORDER-77-A", "picked_up")
        await site.processed()
        assert await site.state("ORDER-77-B") == "ready_for_pickup"
        partial = await _bundle(site, "ORDER-77")
        assert partial["state"] == "partially_picked_up"
        assert [(p["parcelId"], p["state"]) for p in partial["parcels"]] == [
            ("ORDER-77-A", "picked_up"),
            ("ORDER-77-B", "ready_for_pickup"),
        ]
        assert partial["counts"] == {"total": 2, "waiting": 0, "inLocker": 1, "pickedUp": 1}
        await receiver.wait_for(1, path="/bundles", patience_s=20)
        (first,) = receiver.delivered("/bundles")
        event = first.json()
        site.gateway.spec.validate("webhook-bundle-event", event)
        assert (event["type"], event["pickedUp"]) == ("bundle.partially_picked_up", "ORDER-77-A")
        assert event["bundle"]["parcels"] == partial["parcels"]
        assert first.headers["olp-event-type"] == "bundle.partially_picked_up"

        # The used code opens nothing again; a new one opens only the door still holding one.
        opened_before = site.locker.unlock_count(doors[0])
        refused = await site.answer_to_code(pickup["code"])
        assert refused["message"] == "CodeRejected"
        again = await _code(site, "ORDER-77")
        assert (again["parcelIds"], again["compartmentCodes"]) == (["ORDER-77-B"], [doors[1]])
        site.locker.enter_code(again["code"])
        await asyncio.wait_for(site.locker.wait_door(doors[1], "open"), 10)
        site.locker.take(doors[1])
        await site.wait_state("ORDER-77-B", "picked_up")
        assert site.locker.unlock_count(doors[0]) == opened_before
        assert await _bundle_state(site, "ORDER-77") == "picked_up"
        await receiver.wait_for(2, path="/bundles", patience_s=20)
        last = receiver.delivered("/bundles")[1].json()
        site.gateway.spec.validate("webhook-bundle-event", last)
        assert (last["type"], last["pickedUp"]) == ("bundle.picked_up", "ORDER-77-B")
        assert last["bundle"]["counts"]["pickedUp"] == 2
        assert last["eventId"] != event["eventId"]
        # A subscription for every type gets the parcels' own events, never a bundle's.
        await receiver.wait_for(2 + 2 + 2 + 2, path="/all", patience_s=20)
        kinds = [r.json()["type"] for r in receiver.delivered("/all")]
        assert kinds.count("parcel.picked_up") == 2
        assert not [k for k in kinds if k.startswith("bundle.")]


async def test_a_bundle_code_skips_a_door_whose_parcel_moved_on(site: Site) -> None:
    """A parcel of the bundle cancelled after its code was issued: the code opens the others."""
    doors = await _book(site, "ORDER-78", "S", "S")
    code = await _code(site, "ORDER-78")
    cancelled = await site.post("/v1/parcels/ORDER-78-B/cancel", {}, key="cancel-order-78-b")
    assert cancelled.status_code == 200, cancelled.text

    site.locker.enter_code(code["code"])
    await asyncio.wait_for(site.locker.wait_door(doors[0], "open"), 10)
    site.locker.deposit(doors[0])
    await site.wait_state("ORDER-78-A", "ready_for_pickup")
    await site.processed()
    assert site.locker.unlock_count(doors[1]) == 0
    bundle = await _bundle(site, "ORDER-78")
    assert [p["state"] for p in bundle["parcels"]] == ["ready_for_pickup", "cancelled"]
    assert bundle["state"] == "ready_for_pickup"


async def test_a_bundle_code_is_given_back_only_when_no_door_opened(site: Site) -> None:
    doors = await _book(site, "ORDER-79", "S", "S")
    code = (await _code(site, "ORDER-79"))["code"]
    for door in doors:
        site.locker.update_compartment_faults(door, {"stuck_lock": True})

    # No lock released: the code is given back and works once the locks are fixed.
    site.locker.enter_code(code)
    await eventually(lambda: _entries(site), 1)  # the entry was decided (code used up) ...
    await eventually(lambda: _code_usable(site), True)  # ... and given back after the opens
    assert [site.locker.compartment(d).door for d in doors] == ["closed", "closed"]
    site.locker.update_compartment_faults(doors[1], {"stuck_lock": False})
    site.locker.enter_code(code)
    await asyncio.wait_for(site.locker.wait_door(doors[1], "open"), 10)
    site.locker.deposit(doors[1])
    await site.wait_state("ORDER-79-B", "ready_for_pickup")
    # One door opened: the code is spent, although the other lock still sticks.
    await eventually(lambda: _code_usable(site), False)
    assert await site.state("ORDER-79-A") == "reserved"
    refused = await site.answer_to_code(code)
    assert refused["message"] == "CodeRejected"


async def _entries(site: Site) -> int:
    """How many keypad entries were accepted for a bundle's code (the audit trail's)."""
    tried = await AuditService(store=site.gateway.store).latest(50, action=AuditAction.CODE_TRIED)
    return sum(1 for t in tried if "bundleUid" in t.details)


async def _code_usable(site: Site) -> bool:
    """Whether the bundle's last code is unused (its row, as the keypad would find it)."""
    async with site.gateway.store.transaction() as tx:
        record = await tx.bundles.get("acme", "ORDER-79")
        assert record is not None
        return await tx.codes.active_count(record.uid, site.clock()) == 1


async def test_a_deposit_code_for_doors_out_of_service_opens_nothing_and_stays_usable(
    site: Site,
) -> None:
    (door,) = await _book(site, "ORDER-80", "S")
    code = (await _code(site, "ORDER-80"))["code"]
    reserved = await _set_compartment(site, door, disable=True)

    refused = await site.answer_to_code(code)
    assert refused["message"] == "CodeRejected"
    assert site.locker.compartment(door).door == "closed"
    tried = await AuditService(store=site.gateway.store).latest(1, action=AuditAction.CODE_TRIED)
    assert tried[0].details["result"] == "out-of-service"
    assert "failures" not in tried[0].details  # not counted as a guess

    await _set_compartment(site, door, back_to=reserved)
    site.locker.enter_code(code)  # the same code, kept usable
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.deposit(door)
    await site.wait_state("ORDER-80-A", "ready_for_pickup")


async def _set_compartment(
    site: Site, door: str, *, disable: bool = False, back_to: Compartment | None = None
) -> Compartment:
    """Take the compartment out of service as the database records it (the locker is told
    separately), or put back the row as it was; the row before."""
    async with site.gateway.store.transaction() as tx:
        before = await tx.lockers.compartment(LOCKER, door)
        assert before is not None
        after = before.disable() if disable else back_to
        assert after is not None
        await tx.lockers.save_compartment(before, after)
    return before
