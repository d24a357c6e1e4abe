"""A whole cold site: a private Mosquitto, a real gateway, the real emulator with the
tests/fixtures/gda-cold.yaml locker (ambient, chilled, frozen doors at declared heights), two
carriers over HTTP and a webhook receiver (a real HTTP server)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from locker_emulator.bank import EmulatorBank
from locker_emulator.olp_client import EmulatedLocker

from gateway.app import Gateway
from gateway.wire import compartment_to_wire, dump
from tests.e2e.conftest import FAST, site_hardware

# Fixtures of other suites this one builds on: the HTTP site (test_booking) and the emulator's
# broker, spec and fake gateway (test_emulator_cold).
from tests.emulator.conftest import broker, gateway, spec, spec_check  # noqa: F401
from tests.http.conftest import (
    NETWORK,
    provision,
    settings_for,
    site,  # noqa: F401
)
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.mosquitto import Mosquitto
from tests.webhooks.conftest import FAST_WEBHOOKS, FakeCarrier

LOCKER = "GDA-COLD-01"


@dataclass
class Cold:
    gateway: Gateway
    locker: EmulatedLocker
    client: httpx.AsyncClient
    acme: TestCarrier
    globex: TestCarrier
    receiver: FakeCarrier

    async def post(
        self, path: str, body: Any, *, carrier: TestCarrier | None = None
    ) -> httpx.Response:
        headers = (carrier or self.acme).auth() | {"Idempotency-Key": uuid.uuid4().hex}
        return await self.client.post(path, json=body, headers=headers)

    async def book(self, parcel_id: str, **extra: Any) -> httpx.Response:
        body = {"parcelId": parcel_id, "lockerId": LOCKER, "sizeClass": "S", **extra}
        return await self.post("/v1/parcels", body)

    async def door(self, code: str) -> dict[str, Any]:
        async with self.gateway.store.transaction() as tx:
            found = await tx.lockers.compartment(LOCKER, code)
        assert found is not None
        body = dump(compartment_to_wire(found))
        self.gateway.spec.validate("compartment", body)
        return body

    async def alarm_is(self, code: str, wanted: bool) -> dict[str, Any]:
        async with asyncio.timeout(10):
            while True:
                door = await self.door(code)
                if door.get("temperature", {}).get("alarm") is wanted:
                    return door
                await asyncio.sleep(0.05)


@pytest.fixture
async def cold_site(database_url: str, tmp_path: Path) -> AsyncIterator[Cold]:
    acme = TestCarrier.ed25519("acme", NETWORK)
    globex = TestCarrier.p256("globex", NETWORK)
    with Mosquitto(tmp_path / "mqtt") as mqtt:
        settings = settings_for(database_url, mqtt_url=mqtt.url, **FAST_WEBHOOKS)
        async with Gateway(settings=settings, clock=MovableClock()) as gw:
            await gw.carriers.register("acme", acme.jwks)
            await gw.carriers.register("globex", globex.jwks)
            await provision(gw, "gda-cold.yaml")
            async with (
                EmulatorBank(
                    mqtt_url=mqtt.url,
                    lockers=[site_hardware("gda-cold.yaml")],
                    timing=FAST,
                    root_key=gw.root_key.public_jwk,
                ) as bank,
                FakeCarrier() as receiver,
                httpx.AsyncClient(base_url=gw.base_url, timeout=30) as client,
            ):
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                yield Cold(gw, bank[LOCKER], client, acme, globex, receiver)


async def wait_state(cold: Cold, parcel_id: str, wanted: str, timeout: float = 10) -> None:
    """Until the carrier API shows the parcel in state `wanted` (bounded)."""
    last = None
    async with asyncio.timeout(timeout):
        while last != wanted:
            answer = await cold.client.get(f"/v1/parcels/{parcel_id}", headers=cold.acme.auth())
            last = answer.json()["state"]
            await asyncio.sleep(0.05)
