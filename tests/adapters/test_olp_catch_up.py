"""After an overload, refused journaled events come back in chunks, back to back; the episode is
told to the host once (started, then ended with its count), however many messages it refused.

A real Mosquitto and the real emulator; the host stands in for the gateway as in
test_olp_overload.py, with Heartbeats an hour apart: what recovers the refused events here is
the adapter's catch-up, not the next Heartbeat.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from locker_emulator import EmulatorBank
from locker_emulator.layout import CompartmentConfig, LockerConfig

from gateway.sdk import (
    BootDecision,
    BootInfo,
    BootStatus,
    CodeEntered,
    DoorClosed,
    JournalReported,
    LockerEvent,
    OpenOutcome,
    OpenPurpose,
)
from gateway.sdk.telemetry import LaneOverload
from tests.adapters.olp_rig import FAST
from tests.adapters.test_olp_overload import CALM, FLOOD, JournalHost, adapter_for, until
from tests.support.mosquitto import Mosquitto


@dataclass
class WatchingHost(JournalHost):
    """Heartbeats an hour apart; overload episodes recorded as the gateway's host is told."""

    overloads: list[LaneOverload] = field(default_factory=list)
    catch_ups: int = 0

    async def authorize_boot(self, locker_id: str, info: BootInfo) -> BootDecision:
        self.booted.add(locker_id)
        return BootDecision(BootStatus.ACCEPTED, heartbeat_interval_s=3600)

    def lane_overloaded(self, overload: LaneOverload) -> None:
        self.overloads.append(overload)

    async def locker_event(self, event: LockerEvent) -> None:
        if isinstance(event, JournalReported) and not event.live:
            # As the gateway's EventOrder: the lane drained, nothing queued behind a gap is
            # left to ask again, so the hold on the last request does not apply.
            self.catch_ups += 1
            self._asked.pop(event.locker_id, None)
        await super().locker_event(event)

    def episodes(self, locker_id: str) -> list[tuple[bool, int]]:
        return [(o.ended, o.refused) for o in self.overloads if o.locker_id == locker_id]


@pytest.fixture
def broker(tmp_path: Path) -> Any:
    with Mosquitto(tmp_path / "mqtt") as running:
        yield running


def lockers() -> list[LockerConfig]:
    doors = (CompartmentConfig("A01", "M"), CompartmentConfig("A02", "M"))
    return [LockerConfig(locker_id=i, compartments=doors) for i in (FLOOD, CALM)]


async def test_a_thousand_refused_events_come_back_in_lane_sized_chunks(
    broker: Mosquitto,
) -> None:
    lane, refused = 500, 1000
    host = WatchingHost(apply_s=0.0)
    async with (
        EmulatorBank(mqtt_url=broker.url, lockers=lockers(), timing=FAST) as bank,
        adapter_for(broker, host, lane=lane) as adapter,
    ):
        await asyncio.wait_for(bank.wait_all_booted(), 20)
        flood = bank[FLOOD]
        # The gateway holds the first event: the lane takes `lane` more, the rest is refused.
        host.held.add(FLOOD)
        codes = 1 + lane + refused
        for n in range(codes):
            flood.enter_code(f"{n:08d}")
        await until("the flood refused", lambda: adapter.refused(FLOOD) == refused, 60)
        host.held.clear()
        host.release.set()
        await until("every code applied", lambda: len(host.of(FLOOD, CodeEntered)) == codes, 180)
        entered = host.of(FLOOD, CodeEntered)
        assert [e.event_seq for e in entered] == list(range(1, codes + 1))
        # Bounded: one replay per lane's worth of refused events (the replayed events enter
        # an empty lane), asked back to back as each chunk is worked off, with no Heartbeat.
        rounds = math.ceil(refused / lane)
        assert host.replays_asked <= rounds + 1, host.replays_asked
        assert host.catch_ups <= rounds + 1
        # One episode, told twice: started, and ended with every refusal of it (the replayed
        # events refused on the way included).
        await until("the episode ended", lambda: len(host.episodes(FLOOD)) == 2, 10)
        assert host.episodes(FLOOD) == [(False, 1), (True, adapter.refused(FLOOD))]
        assert adapter.stats().lanes.overloads == 1
        assert adapter.stats().lanes.overloaded == 0


async def test_an_overload_is_told_once_and_another_locker_is_unaffected(
    broker: Mosquitto,
) -> None:
    host = WatchingHost()
    async with (
        EmulatorBank(mqtt_url=broker.url, lockers=lockers(), timing=FAST) as bank,
        adapter_for(broker, host, lane=16) as adapter,
    ):
        await asyncio.wait_for(bank.wait_all_booted(), 20)
        flood, calm = bank[FLOOD], bank[CALM]
        host.held.add(FLOOD)
        codes = 120
        for n in range(codes):
            flood.enter_code(f"{n:08d}")
        await until("the lane refusing", lambda: adapter.refused(FLOOD) > 0)
        await until("the flood over", lambda: adapter.refused(FLOOD) == codes - 17, 30)
        # Told once that it started, however many were refused; not ended while it lasts.
        assert host.episodes(FLOOD) == [(False, 1)]
        assert adapter.stats().lanes.overloaded == 1
        # The calm locker is served meanwhile.
        deadline = host.now() + timedelta(seconds=5)
        outcome = await adapter.open_compartment(
            CALM, "A01", purpose=OpenPurpose.DEPOSIT, deadline=deadline
        )
        assert outcome is OpenOutcome.UNLOCKED
        calm.deposit("A01")
        await until("the calm locker's DoorClosed", lambda: host.of(CALM, DoorClosed), 10)
        host.held.clear()
        host.release.set()
        await until("every code applied", lambda: len(host.of(FLOOD, CodeEntered)) == codes, 60)
        await until("the episode ended", lambda: len(host.episodes(FLOOD)) == 2, 10)
        assert host.episodes(FLOOD) == [(False, 1), (True, adapter.refused(FLOOD))]
        assert host.episodes(CALM) == []
        assert adapter.refused(CALM) == 0
        assert host.replays_asked <= math.ceil((codes - 17) / 16) + 1
