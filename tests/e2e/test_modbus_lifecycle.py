"""A parcel's whole life at a locker behind an emulated Modbus controller, via a real gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from locker_emulator.boards.modbus import Framing

from gateway.app import Gateway
from gateway.service.layouts import parse_layout
from tests.adapters.modbus_rig import ModbusRig
from tests.e2e.conftest import eventually
from tests.http.conftest import NETWORK, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock

LOCKER = ModbusRig.locker_id
LAYOUT = f"""
id: {LOCKER}
name: Modbus test locker
location: {{lat: 52.23, lon: 21.01, address: "Test 1, Warszawa"}}
adapter: modbus
compartments:
  - {{code: A01, sizeClass: M}}
  - {{code: A02, sizeClass: M}}
  - {{code: A03, sizeClass: M}}
"""


@dataclass
class ModbusSite:
    gateway: Gateway
    rig: ModbusRig
    client: httpx.AsyncClient
    carrier: TestCarrier
    clock: MovableClock

    async def post(self, path: str, body: Any = None, *, key: str) -> httpx.Response:
        headers = self.carrier.auth(iat=self.clock().timestamp())
        headers["Idempotency-Key"] = key
        return await self.client.post(path, json=body or {}, headers=headers)

    async def state(self, parcel_id: str) -> str:
        headers = self.carrier.auth(iat=self.clock().timestamp())
        response = await self.client.get(f"/v1/parcels/{parcel_id}", headers=headers)
        state: str = response.json()["state"]
        return state

    async def open(self, parcel_id: str, key: str) -> dict[str, Any]:
        response = await self.post(f"/v1/parcels/{parcel_id}/open", key=key)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture(params=[Framing.TCP, Framing.RTU], ids=["tcp", "rtu"])
async def modbus_site(
    request: pytest.FixtureRequest, database_url: str
) -> AsyncIterator[ModbusSite]:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    async with ModbusRig(framing=request.param) as rig:
        # The adapter starts with the gateway, before the locker is provisioned: its first
        # boot is refused, and asked again soon.
        config = rig.config(boot_retry_s=0.2).model_dump(mode="json")
        settings = settings_for(database_url, open_timeout_s=3.0, adapters={"modbus": config})
        async with Gateway(settings=settings, clock=clock) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            locker, doors = parse_layout(LAYOUT).to_domain()
            await gateway.lockers.provision(locker, doors)
            async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
                site = ModbusSite(gateway, rig, client, carrier, clock)
                await eventually(lambda: _booted(gateway), True, timeout=15)
                yield site


async def _booted(gateway: Gateway) -> bool:
    return await gateway.locker_side.boot_gate.is_booted(LOCKER)


async def test_book_deposit_and_pick_up_through_the_modbus_adapter(modbus_site: ModbusSite) -> None:
    site = modbus_site
    response = await site.post(
        "/v1/parcels",
        {"parcelId": "MB-1", "lockerId": LOCKER, "sizeClass": "M"},
        key="book-mb-1",
    )
    assert response.status_code == 201, response.text
    door = response.json()["compartmentCode"]

    deposit = await site.open("MB-1", "open-mb-1-deposit")
    assert (deposit["outcome"], deposit["purpose"]) == ("Unlocked", "deposit")
    assert site.rig.door_open(door)
    await site.rig.close_door(door, item_inside=True)
    await eventually(lambda: site.state("MB-1"), "ready_for_pickup")

    pickup = await site.open("MB-1", "open-mb-1-pickup")
    assert (pickup["outcome"], pickup["purpose"]) == ("Unlocked", "pickup")
    await site.rig.close_door(door, item_inside=False)
    await eventually(lambda: site.state("MB-1"), "picked_up")

    assert site.rig.unlock_count(door) == 2  # one pulse per opening, never more
    compartment = next(c for c in await site.gateway.lockers.compartments(LOCKER) if c.code == door)
    assert (compartment.door.value, compartment.item.value) == ("closed", "absent")
