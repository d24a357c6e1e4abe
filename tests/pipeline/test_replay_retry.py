"""A replay request that got no answer (the broker restarted, the link was cut) must be asked
again: otherwise the locker's events behind the gap wait for its next Heartbeat or Boot, and
a deposit takes minutes to show (the chaos run's 3 stuck parcels, SPEC §9)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import ClassVar

from gateway.domain.enums import ParcelState
from gateway.sdk import AdapterFeatures, AdapterTimeout, LockerEvent, ReplayReport
from gateway.service.locker_host import LockerSide
from tests.pipeline.conftest import InstantAdapter, Rig

# Replayed well within this after the link is back (first retry after 0.5-1 s).
SETTLE_S = 8.0


class JournalingLocker(InstantAdapter):
    """A locker with an event journal whose link is down for the first `unanswered` replay
    requests; once up, it publishes the asked-for events again, in order, as a locker does."""

    features: ClassVar[AdapterFeatures] = InstantAdapter.features | AdapterFeatures.EVENT_REPLAY

    def __init__(self, journal: list[LockerEvent], *, unanswered: int) -> None:
        self.side: LockerSide | None = None
        self.requests: list[int] = []
        self._journal = journal
        self._unanswered = unanswered
        self._in_flight = 0
        self.most_in_flight = 0

    async def replay_events(
        self, locker_id: str, after_seq: int, deadline: datetime
    ) -> ReplayReport:
        self.requests.append(after_seq)
        self._in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self._in_flight)
        try:
            if len(self.requests) <= self._unanswered:
                raise AdapterTimeout(f"ReplayEvents for {locker_id}: no reply within 10 s")
            assert self.side is not None
            later = [e for e in self._journal if (e.event_seq or 0) > after_seq]
            for event in later:
                await self.side.host.locker_event(event)
            last = self._journal[-1].event_seq or 0
            return ReplayReport(
                after_seq=after_seq, replayed=len(later), oldest_seq=1, last_seq=last
            )
        finally:
            self._in_flight -= 1


async def _state_within(rig: Rig, parcel_id: str, want: ParcelState, seconds: float) -> float:
    started = time.monotonic()
    while (state := await rig.state(parcel_id)) is not want:
        assert time.monotonic() - started < seconds, f"{parcel_id} still {state} after {seconds} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_events_behind_an_unanswered_replay_are_applied_without_a_boot(rig: Rig) -> None:
    door, _ = await rig.opened_parcel("R-1")
    opened, closed = rig.opened(door), rig.deposited(door)
    hardware = JournalingLocker([opened, closed], unanswered=1)
    side = rig.side_with(hardware)
    hardware.side = side
    async with side.order.retries():
        # DoorOpened (event 1) was lost on the way; DoorClosed (2) opens a gap, the replay
        # request for it gets no reply: the link is down at that moment, and back right after.
        await side.host.locker_event(closed)
        assert hardware.requests == [0]
        await _state_within(rig, "R-1", ParcelState.READY_FOR_PICKUP, SETTLE_S)
    assert await rig.mark() == 2
    assert hardware.requests == [0, 0], "one retry answered the gap; no further request"
    assert hardware.most_in_flight == 1


async def test_retries_end_when_the_locker_goes_offline(rig: Rig) -> None:
    door, _ = await rig.opened_parcel("R-2")
    opened, closed = rig.opened(door), rig.deposited(door)  # event 1 goes missing
    hardware = JournalingLocker([opened, closed], unanswered=100)
    side = rig.side_with(hardware)
    hardware.side = side
    async with side.order.retries():
        await side.host.locker_event(closed)
        async with rig.store.transaction() as tx:
            await tx.sessions.set_online(closed.locker_id, False, closed.at)
        retry = side.order._retrying.get(closed.locker_id)
        assert retry is not None, "no retry was started for the unanswered replay"
        await asyncio.wait_for(retry, timeout=SETTLE_S)
    # The first request, at most one retry already under way when it went dark: then none.
    assert len(hardware.requests) <= 2
    assert side.order._retrying == {}
