"""End to end: every EPCIS document a real gateway emits over a whole parcel lifecycle (door
events from the emulated locker included) is valid for the independent epcis2.js validator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from locker_emulator.bank import EmulatorBank

from gateway.app import Gateway
from gateway.service.connectors import NewAttachment
from tests.connectors.test_epcis_validate import dist, validate
from tests.e2e.conftest import FAST, LOCKER, Site, emulated_lockers
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.mosquitto import Mosquitto
from tests.webhooks.conftest import FakeCarrier

__all__ = ["dist"]  # a fixture, used by name

# announced + reserved + ready_for_pickup + picked_up, and announced + reserved + cancelled
EXPECTED = 7


@pytest.fixture
async def epcis_site(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Site, FakeCarrier]]:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(
            database_url, mqtt_url=broker.url, open_timeout_s=3.0, webhook_poll_interval_s=0.05
        )
        async with (
            FakeCarrier() as repository,
            Gateway(settings=settings, clock=MovableClock()) as gateway,
        ):
            await gateway.carriers.register("acme", carrier.jwks)
            await gateway.connectors.add(
                NewAttachment(
                    id="acme-epcis",
                    carrier_id="acme",
                    connector="epcis",
                    config={"url": repository.url("/epcis"), "capture": True},
                    auth={"type": "api-key", "header": "X-Api-Key", "value": "k-0123456789"},
                )
            )
            await provision(gateway, "waw-central.yaml")
            async with EmulatorBank(
                mqtt_url=broker.url,
                lockers=emulated_lockers(),
                timing=FAST,
                root_key=gateway.root_key.public_jwk,  # pinned at provisioning (SPEC §9)
            ) as bank:
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
                    site = Site(gateway, bank, broker, client, carrier, MovableClock())
                    yield site, repository


async def test_a_whole_lifecycle_arrives_as_valid_epcis(
    epcis_site: tuple[Site, FakeCarrier], dist: Path
) -> None:
    site, repository = epcis_site
    booked = await site.post(
        "/v1/parcels", {"parcelId": "EPC-1", "lockerId": LOCKER, "sizeClass": "S"}, key="book-EPC-1"
    )
    assert booked.status_code == 201, booked.text
    door = booked.json()["compartmentCode"]
    site.locker.enter_code(await site.code("EPC-1"))
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.deposit(door)
    await site.wait_state("EPC-1", "ready_for_pickup")
    site.locker.enter_code(await site.code("EPC-1"))
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.take(door)
    await site.wait_state("EPC-1", "picked_up")

    second = {"parcelId": "EPC-2", "lockerId": LOCKER, "sizeClass": "S"}
    assert (await site.post("/v1/parcels", second, key="book-EPC-2")).status_code == 201
    assert (await site.post("/v1/parcels/EPC-2/cancel", {}, key="cancel-EPC-2")).status_code == 200

    await repository.wait_for(EXPECTED, path="/epcis/capture", patience_s=20)
    arrived = repository.delivered("/epcis/capture")
    assert all(r.headers["x-api-key"] == "k-0123456789" for r in arrived)
    assert all(r.headers["content-type"].startswith("application/ld+json") for r in arrived)
    documents: list[Any] = [json.loads(r.body) for r in arrived]
    status, verdict = validate(documents)
    assert status == 0, verdict
    steps = {d["epcisBody"]["eventList"][0]["bizStep"] for d in documents}
    assert {"storing", "dispensing"} <= steps  # deposit and pickup, from the door events
