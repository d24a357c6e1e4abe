"""Lockers are isolated: a slow one never stalls another, a code opens only its own locker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from locker_emulator.bank import EmulatorBank

from adapters.olp import OlpAdapter
from gateway.app import Gateway
from gateway.domain.audit import AuditAction
from gateway.sdk import ENTRY_POINT_GROUP, available_adapters, load_adapter_class
from gateway.service.audit import AuditService
from tests.e2e.conftest import DOORS, FAST, LOCKER, emulated_lockers, site_hardware
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.mosquitto import Mosquitto


def test_the_olp_adapter_is_registered_like_a_third_party_one() -> None:
    assert ENTRY_POINT_GROUP == "openlocker.adapters"
    assert "olp" in available_adapters()
    loaded: object = load_adapter_class("olp")
    assert loaded is OlpAdapter


async def test_a_slow_locker_does_not_stall_another(database_url: str, tmp_path: Path) -> None:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(database_url, mqtt_url=broker.url, open_timeout_s=5.0)
        async with Gateway(settings=settings) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            await provision(gateway, "waw-central.yaml", "krk-main.yaml")
            krakow = site_hardware("krk-main.yaml")
            hardware = [*emulated_lockers(), krakow]
            async with (
                EmulatorBank(
                    mqtt_url=broker.url,
                    lockers=hardware,
                    timing=FAST,
                    root_key=gateway.root_key.public_jwk,
                ) as bank,
                httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client,
            ):
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                bank[LOCKER].update_faults({"slow_replies": 3.0})

                async def book_and_open(parcel: str, locker: str, size: str) -> float:
                    body = {"parcelId": parcel, "lockerId": locker, "sizeClass": size}
                    headers = carrier.auth() | {"Idempotency-Key": f"bk-{parcel}"}
                    booked = await client.post("/v1/parcels", json=body, headers=headers)
                    assert booked.status_code == 201, booked.text
                    headers = carrier.auth() | {"Idempotency-Key": f"op-{parcel}"}
                    started = asyncio.get_running_loop().time()
                    opened = await client.post(
                        f"/v1/parcels/{parcel}/open", json={}, headers=headers
                    )
                    assert opened.json()["outcome"] == "Unlocked", opened.text
                    return asyncio.get_running_loop().time() - started

                slow = asyncio.create_task(book_and_open("SLOW-1", LOCKER, "S"))
                await asyncio.sleep(0.3)  # the slow open is in flight
                fast = await book_and_open("FAST-1", "KRK-MAIN-01", "M")
                assert fast < 1.0, fast
                assert not slow.done()
                assert await slow >= 2.5


async def test_a_code_for_one_locker_opens_nothing_at_another(
    database_url: str, tmp_path: Path
) -> None:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(database_url, mqtt_url=broker.url, open_timeout_s=3.0)
        async with Gateway(settings=settings) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            await provision(gateway, "waw-central.yaml", "krk-main.yaml")
            krakow = site_hardware("krk-main.yaml")
            async with (
                EmulatorBank(
                    mqtt_url=broker.url,
                    lockers=[*emulated_lockers(), krakow],
                    timing=FAST,
                    root_key=gateway.root_key.public_jwk,
                ) as bank,
                httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client,
            ):
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                body = {"parcelId": "XL-1", "lockerId": "KRK-MAIN-01", "sizeClass": "M"}
                headers = carrier.auth() | {"Idempotency-Key": "xl-book-0001"}
                booked = await client.post("/v1/parcels", json=body, headers=headers)
                assert booked.status_code == 201, booked.text
                door = booked.json()["compartmentCode"]
                issued = await client.post(
                    "/v1/parcels/XL-1/codes", json={}, headers=carrier.auth()
                )
                code = issued.json()["code"]

                audit = AuditService(store=gateway.store)
                shown = bank[LOCKER].display
                bank[LOCKER].enter_code(code)
                async with asyncio.timeout(10):
                    while not await audit.latest(1, action=AuditAction.CODE_TRIED):
                        await asyncio.sleep(0.05)
                [tried] = await audit.latest(1, action=AuditAction.CODE_TRIED)
                assert (tried.subject, tried.details["result"]) == (LOCKER, "rejected")
                # The gateway's answer on the display comes after its decision: nothing opens.
                async with asyncio.timeout(10):
                    await bank[LOCKER].wait_until(lambda: bank[LOCKER].display is not shown)
                assert (bank[LOCKER].display or {}).get("message") == "CodeRejected"
                for code_at_waw, _size in DOORS:
                    assert bank[LOCKER].unlock_count(code_at_waw) == 0
                    assert bank[LOCKER].compartment(code_at_waw).door.value == "closed"
                assert bank["KRK-MAIN-01"].compartment(door).door.value == "closed"

                # Its own locker takes it: the wrong locker did not use it up.
                bank["KRK-MAIN-01"].enter_code(code)
                await asyncio.wait_for(bank["KRK-MAIN-01"].wait_door(door, "open"), 10)
