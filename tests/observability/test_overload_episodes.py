"""A locker that floods its lane, end to end: a real Mosquitto, the gateway, the emulator.

The overload is recorded once (an audit entry when it starts, one when it ends with the count
of refused messages), counted on /metrics, shown in the console's faults; another locker is
served all along; and every refused event comes back by replay, with Heartbeats an hour apart
(the adapter's catch-up, not the next Heartbeat).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from locker_emulator.bank import EmulatorBank

from adapters.olp.adapter import OlpAdapter
from gateway.app import Gateway
from gateway.console import views
from gateway.console.reads import ConsoleReads
from gateway.domain.audit import AuditAction
from gateway.service.admin_views import AdminViews
from gateway.service.audit import AuditService
from tests.e2e.conftest import FAST, LOCKER, emulated_lockers, eventually, site_hardware
from tests.http.conftest import NETWORK, provision, settings_for
from tests.observability.conftest import TelemetrySite
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.mosquitto import Mosquitto

KRK = "KRK-MAIN-01"
LANE = 4
CODES = 90
OVERLOAD = (AuditAction.LOCKER_OVERLOADED.value, AuditAction.LOCKER_OVERLOAD_ENDED.value)


@contextlib.asynccontextmanager
async def two_lockers(database_url: str, tmp_path: Path) -> AsyncIterator[TelemetrySite]:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(
            database_url,
            mqtt_url=broker.url,
            open_timeout_s=3.0,
            metrics={"figures_max_age": 0},
            # Heartbeats an hour apart: what brings the refused events back is the catch-up.
            lockers={"lane_capacity": LANE, "heartbeat_interval": 3600},
            # A flood of wrong codes must not lock the keypad (and change what is counted).
            keypad={"max_failures": 100, "daily_max_failures": 1000},
        )
        async with Gateway(settings=settings, clock=clock) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            await provision(gateway, "waw-central.yaml", "krk-main.yaml")
            hardware = [*emulated_lockers(), site_hardware("krk-main.yaml")]
            async with EmulatorBank(
                mqtt_url=broker.url,
                lockers=hardware,
                timing=FAST,
                root_key=gateway.root_key.public_jwk,
            ) as bank:
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
                    yield TelemetrySite(gateway, bank, broker, client, carrier, clock)


async def overload_entries(gateway: Gateway, locker_id: str) -> list[Any]:
    audit = AuditService(store=gateway.store)
    return [e for e in await audit.latest(500, subject=locker_id) if e.action in OVERLOAD]


async def test_a_flood_is_recorded_once_shown_and_caught_up(
    database_url: str, tmp_path: Path
) -> None:
    async with two_lockers(database_url, tmp_path) as site:
        gateway = site.gateway
        adapter = gateway.adapters.running["olp"]
        assert isinstance(adapter, OlpAdapter)
        waw, krk = site.bank[LOCKER], site.bank[KRK]
        for n in range(CODES):
            waw.enter_code(f"{n:08d}")
        # The other locker is served while the first floods: its code is answered.
        shown = krk.display
        krk.enter_code("87654321")
        async with asyncio.timeout(15):
            await krk.wait_until(lambda: krk.display is not shown)
        # Nothing lost: the gateway's mark reaches the flooding locker's whole journal.
        assert await site.processed(timeout=90) == CODES
        refused = adapter.refused(LOCKER)
        assert refused > 0, "the flood never filled the lane: nothing was tested"

        async def overloaded_now() -> float:
            scraped = await site.scrape()
            return scraped.value("openlocker_lane_overloaded_lockers", adapter="olp")

        await eventually(overloaded_now, 0.0, timeout=15)
        scraped = await site.scrape()
        episodes = int(scraped.value("openlocker_lane_overload_episodes_total", adapter="olp"))
        assert episodes >= 1  # one, unless the host was too slow to publish the burst at once
        assert scraped.value("openlocker_lane_refusals_total", adapter="olp") == refused

        async def recorded() -> int:
            return len(await overload_entries(gateway, LOCKER))

        await eventually(recorded, 2 * episodes, timeout=15)
        entries = await overload_entries(gateway, LOCKER)
        # Once per episode, not per message: started, then ended with its refusals.
        assert [e.action for e in entries] == list(OVERLOAD) * episodes
        assert {e.actor for e in entries} == {"gateway:" + gateway.settings.instance}
        assert sum(e.details["refused"] for e in entries[1::2]) == refused
        assert {e.details["lanes"] for e in entries} == {"olp"}
        assert await overload_entries(gateway, KRK) == []
        assert adapter.refused(KRK) == 0

        # The console's "faults now": the episode that just ended, on the flooding locker.
        reads = ConsoleReads(store=gateway.store, clock=site.clock)
        views_ = AdminViews(store=gateway.store, clock=site.clock)
        overview = await views.overview(views_, reads, site.clock())
        faults = [f for f in overview.faults if "overloaded" in f.what]
        assert [f.where for f in faults] == [LOCKER], overview.faults
        assert f"{entries[-1].details['refused']} messages refused" in faults[0].what
        assert faults[0].href == f"/console/lockers/{LOCKER}"
