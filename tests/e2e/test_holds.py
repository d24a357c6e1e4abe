"""A soft hold turned into a hard reservation at the door, through the real emulator."""

from __future__ import annotations

from tests.e2e.conftest import LOCKER, Site


async def test_a_held_parcel_takes_its_compartment_when_the_courier_opens_the_door(
    site: Site,
) -> None:
    check = await site.get(f"/v1/lockers/{LOCKER}/precheck?sizeClass=M&weightG=3000")
    assert check.status_code == 200, check.text
    assert (check.json()["verdict"], check.json()["sizeClass"]) == ("accepted", "M")
    held = await site.post(
        "/v1/holds", {"lockerId": LOCKER, "sizeClass": "M", "ttlSeconds": 600}, key="hold-e2e-1"
    )
    assert held.status_code == 201, held.text
    hold_id = held.json()["holdId"]
    body = {"parcelId": "HOLD-E2E-1", "lockerId": LOCKER, "sizeClass": "M"}
    announced = await site.post(
        "/v1/parcels", {**body, "holdId": hold_id, "reserve": False}, key="book-hold-e2e-1"
    )
    assert announced.status_code == 201, announced.text
    assert (announced.json()["state"], announced.json()["compartmentCode"]) == ("announced", None)

    # At the door: the open reserves a compartment of the held class and opens it.
    opened = await site.post("/v1/parcels/HOLD-E2E-1/open", key="open-hold-e2e-1")
    assert opened.status_code == 200, opened.text
    result = opened.json()
    site.gateway.spec.validate("open-result", result)
    assert (result["outcome"], result["purpose"], result["parcelState"]) == (
        "Unlocked",
        "deposit",
        "reserved",
    )
    door = result["compartmentCode"]
    assert door.startswith("M")
    assert site.locker.compartment(door).door.value == "open"
    hold = (await site.get(f"/v1/holds/{hold_id}")).json()
    assert (hold["state"], hold["parcelId"]) == ("converted", "HOLD-E2E-1")

    site.locker.deposit(door)
    await site.wait_state("HOLD-E2E-1", "ready_for_pickup")
    events = (await site.get("/v1/parcels/HOLD-E2E-1/events")).json()["items"]
    assert [e["type"] for e in events] == [
        "parcel.announced",
        "parcel.reserved",
        "parcel.ready_for_pickup",
    ]


async def test_an_announced_parcel_without_a_hold_still_has_no_door_to_open(site: Site) -> None:
    body = {"parcelId": "HOLD-E2E-2", "lockerId": LOCKER, "sizeClass": "S", "reserve": False}
    assert (await site.post("/v1/parcels", body, key="book-hold-e2e-2")).status_code == 201
    refused = await site.post("/v1/parcels/HOLD-E2E-2/open", key="open-hold-e2e-2")
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "IllegalTransition"
    assert await site.state("HOLD-E2E-2") == "announced"
