"""A parcel's life at a locker on Kerong RS-485 boards: a real gateway drives emulated boards
over a serial bus on TCP, a carrier books and opens over HTTP, people shut the doors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.service.layouts import parse_layout
from tests.adapters.kerong_rig import LOCKER_ID, WIRING, KerongRig
from tests.e2e.conftest import eventually
from tests.http.conftest import NETWORK, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock

# The locker as the operator provisions it: the same doors as the rig's wiring, all size M.
LAYOUT = f"""
id: {LOCKER_ID}
name: Kerong test locker
location: {{lat: 52.2297, lon: 21.0122}}
adapter: kerong-cu16
compartments:
{"".join(f"  - {{code: {code}, sizeClass: M}}{chr(10)}" for code in WIRING)}
"""


@dataclass
class KerongSite:
    gateway: Gateway
    rig: KerongRig
    client: httpx.AsyncClient
    carrier: TestCarrier
    clock: MovableClock

    async def post(self, path: str, body: Any = None, *, key: str | None = None) -> httpx.Response:
        headers = self.carrier.auth(iat=self.clock().timestamp())
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.client.post(path, json=body if body is not None else {}, headers=headers)

    async def state(self, parcel_id: str) -> str:
        headers = self.carrier.auth(iat=self.clock().timestamp())
        response = await self.client.get(f"/v1/parcels/{parcel_id}", headers=headers)
        state: str = response.json()["state"]
        return state

    async def booted(self) -> bool:
        # A bus-bound adapter runs once this gateway holds the bus lease, which it takes in
        # the background: on a loaded host that can come after the gateway serves.
        adapter = self.gateway.adapters.running.get("kerong-cu16")
        if adapter is None:
            return False
        status = await adapter.read_status(LOCKER_ID)
        return status.booted and status.online


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[KerongSite]:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    async with KerongRig(poll_interval_s=0.05, boot_retry_s=0.1) as rig:
        settings = settings_for(
            database_url, open_timeout_s=3.0, adapters={"kerong-cu16": rig.config()}
        )
        async with Gateway(settings=settings, clock=clock) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            locker, doors = parse_layout(LAYOUT).to_domain()
            await gateway.lockers.provision(locker, doors)
            async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
                kerong = KerongSite(gateway, rig, client, carrier, clock)
                # Provisioned after the adapter's first poll: its boot is retried, then accepted.
                await eventually(kerong.booted, True, timeout=15)
                yield kerong


async def test_book_deposit_pick_up(site: KerongSite) -> None:
    booked = await site.post(
        "/v1/parcels",
        {"parcelId": "KR-P1", "lockerId": LOCKER_ID, "sizeClass": "M"},
        key="book-kr-p1",
    )
    assert booked.status_code == 201, booked.text
    door = booked.json()["compartmentCode"]
    assert door in WIRING

    deposit = await site.post("/v1/parcels/KR-P1/open", key="open-kr-p1-deposit")
    assert deposit.status_code == 200, deposit.text
    assert deposit.json()["outcome"] == "Unlocked"
    assert deposit.json()["purpose"] == "deposit"
    assert site.rig.door_open(door)
    await site.rig.close_door(door, item_inside=True)
    await eventually(lambda: site.state("KR-P1"), "ready_for_pickup")

    pickup = await site.post("/v1/parcels/KR-P1/open", key="open-kr-p1-pickup")
    assert pickup.status_code == 200, pickup.text
    assert pickup.json()["outcome"] == "Unlocked"
    assert pickup.json()["purpose"] == "pickup"
    await site.rig.close_door(door, item_inside=False)
    await eventually(lambda: site.state("KR-P1"), "picked_up")

    assert site.rig.unlock_count(door) == 2
    assert sum(site.rig.unlock_count(code) for code in WIRING) == 2, "another door fired"
    compartment = next(
        c for c in await site.gateway.lockers.compartments(LOCKER_ID) if c.code == door
    )
    assert (compartment.door.value, compartment.item.value) == ("closed", "absent")


async def test_stuck_lock_takes_the_door_out_of_service(site: KerongSite) -> None:
    booked = await site.post(
        "/v1/parcels",
        {"parcelId": "KR-P2", "lockerId": LOCKER_ID, "sizeClass": "M"},
        key="book-kr-p2",
    )
    assert booked.status_code == 201, booked.text
    door = booked.json()["compartmentCode"]
    await site.rig.jam(door)
    response = await site.post("/v1/parcels/KR-P2/open", key="open-kr-p2")
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "DoorJammed"
    assert site.rig.unlock_count(door) == 1
    compartment = next(
        c for c in await site.gateway.lockers.compartments(LOCKER_ID) if c.code == door
    )
    assert compartment.state.value == "out_of_service"
