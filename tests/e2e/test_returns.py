"""A return without a label through the emulated locker: the sender types the drop-off code,
the locker's scanner reads the label stuck on, the parcel goes in, and the carrier gets
`parcel.dropped_off` naming the label; without a scan the courier binds it later."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.e2e.conftest import LOCKER, Site
from tests.webhooks.conftest import FakeCarrier


async def announce(site: Site, reference: str) -> dict[str, Any]:
    response = await site.post(
        "/v1/returns", {"lockerId": LOCKER, "reference": reference, "sizeClass": "S"}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    site.gateway.spec.validate("return", body)
    return body


async def return_of(site: Site, return_id: str) -> dict[str, Any]:
    body: dict[str, Any] = (await site.get(f"/v1/returns/{return_id}")).json()
    site.gateway.spec.validate("return", body)
    return body


async def test_the_label_scanned_at_drop_off_names_the_parcel_in_the_carrier_s_event(
    site: Site,
) -> None:
    async with FakeCarrier() as receiver:
        hook = await site.post(
            "/v1/webhooks",
            {"url": receiver.url("/returns"), "events": ["parcel.dropped_off"]},
            key="sub-returns-1",
        )
        assert hook.status_code == 201, hook.text
        ret = await announce(site, "RMA-E2E-1")
        door = ret["compartmentCode"]

        site.locker.enter_code(ret["code"], label="RA123456785GB")
        await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
        site.locker.deposit(door)
        await site.wait_state("RA123456785GB", "dropped_off")

        read = await return_of(site, ret["returnId"])
        assert (read["state"], read["parcelId"], read["label"], read["labelSource"]) == (
            "dropped_off",
            "RA123456785GB",
            "RA123456785GB",
            "locker",
        )
        await receiver.wait_for(1, path="/returns", patience_s=20)
        (delivered,) = receiver.delivered("/returns")
        event = delivered.json()
        site.gateway.spec.validate("webhook-event", event)
        assert event["type"] == "parcel.dropped_off"
        assert (event["parcel"]["parcelId"], event["parcel"]["reference"]) == (
            "RA123456785GB",
            "RMA-E2E-1",
        )
        assert event["parcel"]["compartmentCode"] == door

        # The courier's manifest lists it under its label, to take back.
        manifest = (await site.get(f"/v1/collection-manifest?lockerId={LOCKER}")).json()
        lines = manifest["lockers"][0]["items"]
        assert [(i["parcelId"], i["reason"]) for i in lines] == [("RA123456785GB", "dropped_off")]


async def test_without_a_scan_the_drop_off_goes_on_and_the_courier_binds_the_label(
    site: Site,
) -> None:
    ret = await announce(site, "RMA-E2E-2")
    rid, door = ret["returnId"], ret["compartmentCode"]
    # The locker has no scanner (or the sender skipped it): the code alone opens.
    site.locker.enter_code(ret["code"])
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.deposit(door)
    await site.wait_state(rid, "dropped_off")
    assert (await return_of(site, rid))["label"] is None

    bound = await site.post(f"/v1/returns/{rid}/label", {"label": "ACME-RET-0002"})
    assert bound.status_code == 200, bound.text
    assert bound.json()["labelSource"] == "courier"
    assert await site.state("ACME-RET-0002") == "dropped_off"


async def test_a_label_of_another_parcel_is_not_bound_at_the_locker(site: Site) -> None:
    await site.book("ACME-TAKEN-9")
    ret = await announce(site, "RMA-E2E-3")
    rid, door = ret["returnId"], ret["compartmentCode"]
    site.locker.enter_code(ret["code"], label="ACME-TAKEN-9")
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.deposit(door)
    await site.wait_state(rid, "dropped_off")  # the drop-off went on under the return id
    read = await return_of(site, rid)
    assert (read["parcelId"], read["label"]) == (rid, None)
