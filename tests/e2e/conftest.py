"""A whole site: a private Mosquitto, a real gateway, the real emulator, a carrier over HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from locker_emulator.bank import EmulatorBank
from locker_emulator.layout import LockerConfig, load_layout
from locker_emulator.olp_client import EmulatedLocker, Timing

from gateway.app import Gateway
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.mosquitto import Mosquitto

LOCKER = "WAW-CENTRAL-01"
# One file describes the site for the gateway (`provision`, `openlocker locker add`) and for
# the emulated hardware (`load_layout`, `openlocker-emulator run --layout`): written once.
SITE_LAYOUT = Path(__file__).resolve().parents[1] / "fixtures" / "waw-central.yaml"
(_SITE,) = load_layout(SITE_LAYOUT)
DOORS = tuple((c.code, c.size_class) for c in _SITE.compartments)
FAST = Timing(
    call_timeout=2.0,
    boot_retry_initial=0.2,
    boot_retry_max=1.0,
    reconnect_initial=0.1,
    reconnect_max=0.5,
    tick=0.05,
)


@dataclass
class Site:
    gateway: Gateway
    bank: EmulatorBank
    broker: Mosquitto
    client: httpx.AsyncClient
    carrier: TestCarrier
    clock: MovableClock

    @property
    def locker(self) -> EmulatedLocker:
        return self.bank[LOCKER]

    async def post(self, path: str, body: Any = None, *, key: str | None = None) -> httpx.Response:
        headers = self._auth()
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.client.post(path, json=body if body is not None else {}, headers=headers)

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(path, headers=self._auth())

    def _auth(self) -> dict[str, str]:
        # Tokens follow the gateway's clock, which tests move forward.
        return self.carrier.auth(iat=self.clock().timestamp())

    async def book(self, parcel_id: str, size: str = "S") -> dict[str, Any]:
        body = {"parcelId": parcel_id, "lockerId": LOCKER, "sizeClass": size}
        response = await self.post("/v1/parcels", body, key=f"book-{parcel_id}")
        assert response.status_code == 201, response.text
        parcel: dict[str, Any] = response.json()
        return parcel

    async def code(self, parcel_id: str) -> str:
        response = await self.post(f"/v1/parcels/{parcel_id}/codes")
        assert response.status_code == 201, response.text
        code: str = response.json()["code"]
        return code

    async def state(self, parcel_id: str) -> str:
        state: str = (await self.get(f"/v1/parcels/{parcel_id}")).json()["state"]
        return state

    async def wait_state(self, parcel_id: str, wanted: str, timeout: float = 10) -> None:
        await eventually(lambda: self.state(parcel_id), wanted, timeout)

    async def answer_to_code(self, code: str, timeout: float = 10) -> dict[str, Any]:
        """Type `code` and wait for the gateway's answer on the display (each answer is a new
        message): proof that the gateway decided the entry, and, a locker's events being
        applied in order, every event before it. An accepted code opens before any display,
        so use this for codes that must be refused."""
        shown = self.locker.display
        self.locker.enter_code(code)
        async with asyncio.timeout(timeout):
            await self.locker.wait_until(lambda: self.locker.display is not shown)
        answer = self.locker.display
        assert answer is not None
        return answer

    async def processed(self, timeout: float = 20) -> int:
        """Wait until the gateway applied every event the locker numbered (its processed
        mark, moved in each event's own transaction, reaches the locker's journal); that
        number."""
        journal = self.locker.model.journal

        async def mark() -> int | None:
            async with self.gateway.store.transaction() as tx:
                return await tx.sessions.event_mark(LOCKER)

        await eventually(mark, journal.last_seq, timeout)
        return journal.last_seq

    async def dropped(self, action: str, timeout: float = 10) -> dict[str, Any]:
        """Wait until the locker dropped a command `action` unperformed (its log says why:
        received after its `exp`, or its `exp` passed while the locker was busy)."""

        def found() -> dict[str, Any] | None:
            for entry in self.locker.log_entries():
                envelope = entry.get("envelope", {})
                note = str(entry.get("note", ""))
                if envelope.get("action") == action and note.startswith("dropped"):
                    return dict(entry)
            return None

        async with asyncio.timeout(timeout):
            await self.locker.wait_until(lambda: found() is not None)
        entry = found()
        assert entry is not None
        return entry


async def eventually(
    probe: Callable[[], Any], wanted: Any, timeout: float = 10, interval: float = 0.05
) -> None:
    """Poll an async probe until it returns `wanted` (bounded: fails with the last value)."""
    last: Any = None
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last == wanted:
            return
        await asyncio.sleep(interval)
    raise AssertionError(f"still {last!r} after {timeout} s, wanted {wanted!r}")


def site_hardware(layout: str) -> LockerConfig:
    """The locker of tests/fixtures/`layout` (what `provision` provisions) as hardware."""
    (locker,) = load_layout(SITE_LAYOUT.parent / layout)
    return locker


def emulated_lockers(locker_id: str = LOCKER) -> list[LockerConfig]:
    """The site layout's locker as hardware, under `locker_id` (another site, same doors)."""
    return [dataclasses.replace(_SITE, locker_id=locker_id)]


@asynccontextmanager
async def emulated_site(
    gateway: Gateway,
    broker: Mosquitto,
    carrier: TestCarrier,
    clock: MovableClock,
    *,
    control_port: int | None = None,
    timing: Timing = FAST,
) -> AsyncIterator[Site]:
    """The emulated locker booted against a running `gateway`, and a client for its API
    (`control_port=0`: with the emulator's control page, the kiosk, on a free port)."""
    async with EmulatorBank(
        mqtt_url=broker.url,
        lockers=emulated_lockers(),
        timing=timing,
        control_port=control_port,
        root_key=gateway.root_key.public_jwk,  # pinned at provisioning (SPEC §9)
    ) as bank:
        await asyncio.wait_for(bank.wait_all_booted(), 15)
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
            yield Site(gateway, bank, broker, client, carrier, clock)


@pytest.fixture
async def site(database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(database_url, mqtt_url=broker.url, open_timeout_s=3.0)
        async with Gateway(settings=settings, clock=clock) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            await provision(gateway, "waw-central.yaml")
            async with EmulatorBank(
                mqtt_url=broker.url,
                lockers=emulated_lockers(),
                timing=FAST,
                root_key=gateway.root_key.public_jwk,  # pinned at provisioning (SPEC §9)
            ) as bank:
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
                    yield Site(gateway, bank, broker, client, carrier, clock)
