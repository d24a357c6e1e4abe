"""A real site for the console: PostgreSQL, Mosquitto, the gateway, an emulated locker bank, a
carrier's webhook receiver, and operators of every role. Browser fixtures come from
tests/browser (one headless Chromium per worker)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from locker_emulator.bank import EmulatorBank
from locker_emulator.olp_client import EmulatedLocker

from gateway.app import Gateway
from gateway.domain.operators import Operator
from gateway.domain.webhooks import DeliveryState
from gateway.service.deliveries import DeliveryService
from gateway.store import Delivery
from tests.admin.conftest import (
    ABSOLUTE_S,
    CHEAP_PASSWORDS,
    IDLE_S,
    OPERATORS,
    PASSWORD,
    password_hash,
)
from tests.browser.conftest import browser, chromium, pytest_runtest_makereport  # noqa: F401
from tests.e2e.conftest import FAST, LOCKER, emulated_lockers, eventually
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.browser import Browser
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.mosquitto import Mosquitto
from tests.webhooks.conftest import FAST_WEBHOOKS, FakeCarrier

__all__ = ["IDLE_S", "MAX_FAILURES", "ConsoleSite", "eventually", "sign_in"]
MAX_FAILURES = 2  # wrong passwords in a row before the account and the address are locked


@dataclass
class ConsoleSite:
    gateway: Gateway
    bank: EmulatorBank
    client: httpx.AsyncClient  # the carrier's
    carrier: TestCarrier
    clock: MovableClock
    receiver: FakeCarrier

    @property
    def url(self) -> str:
        return self.gateway.base_url + "/console"

    @property
    def locker(self) -> EmulatedLocker:
        return self.bank[LOCKER]

    async def post(self, path: str, body: Any, key: str) -> httpx.Response:
        headers = self.carrier.auth(iat=self.clock().timestamp()) | {"Idempotency-Key": key}
        return await self.client.post(path, json=body, headers=headers)

    async def book(self, parcel_id: str) -> str:
        """A reserved parcel; its compartment."""
        body = {"parcelId": parcel_id, "lockerId": LOCKER, "sizeClass": "S"}
        answer = await self.post("/v1/parcels", body, f"book-{parcel_id}")
        assert answer.status_code == 201, answer.text
        return str(answer.json()["compartmentCode"])

    async def deposit(self, parcel_id: str, *, booked: str | None = None) -> str:
        """The courier types the drop-off code, puts the parcel in, closes the door; once the
        gateway has applied it."""
        door = booked or await self.book(parcel_id)
        answer = await self.post(f"/v1/parcels/{parcel_id}/codes", {}, f"code-{parcel_id}")
        assert answer.status_code == 201, answer.text
        self.locker.enter_code(answer.json()["code"])
        async with asyncio.timeout(10):
            await self.locker.wait_until(lambda: self.locker.compartment(door).door == "open")
        self.locker.deposit(door)
        await eventually(lambda: self.parcel_state(parcel_id), "ready_for_pickup", 10)
        return door

    async def pick_up(self, parcel_id: str, door: str) -> None:
        """The recipient types the pickup code and takes the parcel out."""
        answer = await self.post(f"/v1/parcels/{parcel_id}/codes", {}, f"pickup-{parcel_id}")
        assert answer.status_code == 201, answer.text
        self.locker.enter_code(answer.json()["code"])
        async with asyncio.timeout(10):
            await self.locker.wait_until(lambda: self.locker.compartment(door).door == "open")
        self.locker.take(door)
        await eventually(lambda: self.parcel_state(parcel_id), "picked_up", 10)

    async def gateway_deliveries(self, state: DeliveryState) -> tuple[list[Delivery], str | None]:
        return await DeliveryService(store=self.gateway.store).list(None, state=state)

    async def parcel_state(self, parcel_id: str) -> str:
        async with self.gateway.store.transaction() as tx:
            parcel = await tx.parcels.get("acme", parcel_id)
        return "" if parcel is None else parcel.state.value


async def sign_in(page: Browser, site: ConsoleSite, operator_id: str, then: str = "") -> None:
    await page.open(f"{site.url}/login?next=/console{then}")
    await page.type("#operator_id", operator_id)
    await page.type("#password", PASSWORD)
    await page.click("#sign-in")
    await page.wait_text("#whoami", operator_id.title())


@pytest.fixture
async def console_site(_clean_postgres: str, tmp_path: Path) -> AsyncIterator[ConsoleSite]:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    with Mosquitto(tmp_path / "mqtt") as broker:
        sessions = {
            "session_idle": IDLE_S,
            "session_absolute": ABSOLUTE_S,
            "login_max_failures": MAX_FAILURES,
        } | CHEAP_PASSWORDS
        settings = settings_for(
            _clean_postgres,
            mqtt_url=broker.url,
            open_timeout_s=3.0,
            operators=sessions,
            **FAST_WEBHOOKS,
        )
        async with FakeCarrier() as receiver, Gateway(settings=settings, clock=clock) as gateway:
            await gateway.carriers.register("acme", carrier.jwks, "ACME Parcel")
            await provision(gateway, "waw-central.yaml", "krk-main.yaml")
            async with gateway.store.transaction() as tx:
                for operator_id, role in OPERATORS.items():
                    operator = Operator(operator_id, operator_id.title(), role, clock())
                    await tx.operators.add(operator, password_hash())
            async with EmulatorBank(
                mqtt_url=broker.url,
                lockers=emulated_lockers(),
                timing=FAST,
                control_port=0,
                root_key=gateway.root_key.public_jwk,
            ) as bank:
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
                    yield ConsoleSite(gateway, bank, client, carrier, clock, receiver)
