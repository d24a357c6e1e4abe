"""A recording AdapterHost for the conformance kit: accepts boots, records events, has a clock."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.domain.scan import ScanAnswer, ScanQuery, ScanRefusal
from gateway.sdk.adapter import BootDecision, BootInfo, BootStatus
from gateway.sdk.events import LockerEvent, PresenceChanged

# How long the kit's host takes to apply one event, as the gateway's database transaction
# does: long enough that an adapter handing over a locker's events concurrently (not from
# the locker's lane) is seen overlapping, short enough not to slow the kit down.
APPLY_S = 0.005


@dataclass(frozen=True, slots=True)
class RecordedBoot:
    """One boot the adapter asked the host to authorise."""

    locker_id: str
    info: BootInfo
    at: datetime


class RecordingHost:
    """Stands in for the gateway behind an adapter under test (implements `AdapterHost`).

    It accepts every boot and records it; `is_booted` answers as the gateway's database would:
    a locker is booted from its accepted boot until an event reports it offline. Every event
    handed to `locker_event` is put, in the order of the calls, on `handed_over`, the queue the
    kit's `EventCollector` reads; a call for a locker whose previous call has not returned yet
    is noted in `overlaps` (a locker's events must come from its lane, one at a time).
    `on_event`, when set, is awaited inside `locker_event`, as the gateway's own reactions are
    (a keypad code opens a door through the adapter before the event is done). `now()` is the
    real UTC clock shifted by `advance()`, so a test can move the gateway's time without
    sleeping.
    """

    def __init__(
        self,
        *,
        heartbeat_interval_s: int = 60,
        clock: Callable[[], datetime] | None = None,
        apply_s: float = APPLY_S,
    ) -> None:
        self.heartbeat_interval_s = heartbeat_interval_s
        self.boots: list[RecordedBoot] = []
        self.handed_over: asyncio.Queue[LockerEvent] = asyncio.Queue()
        self.overlaps: list[LockerEvent] = []
        self.on_event: Callable[[LockerEvent], Awaitable[None]] | None = None
        # Query on scan: every query asked, and the answer given (refused unless a test says).
        self.scans: list[ScanQuery] = []
        self.scan_answer: Callable[[ScanQuery], ScanAnswer] = lambda query: ScanAnswer.refused(
            query.parcel_id, ScanRefusal.POLICY_REFUSED
        )
        self._clock = clock or (lambda: datetime.now(UTC))
        self._apply_s = apply_s
        self._offset = timedelta()
        self._booted: set[str] = set()
        self._in_hand: Counter[str] = Counter()

    # ---- AdapterHost ---------------------------------------------------------------------

    async def authorize_boot(self, locker_id: str, info: BootInfo) -> BootDecision:
        self.boots.append(RecordedBoot(locker_id, info, self.now()))
        self._booted.add(locker_id)
        return BootDecision(BootStatus.ACCEPTED, self.heartbeat_interval_s)

    async def is_booted(self, locker_id: str) -> bool:
        return locker_id in self._booted

    def now(self) -> datetime:
        moment = self._clock()
        if moment.tzinfo is None:
            raise ValueError("the host clock must be timezone-aware")
        return moment + self._offset

    async def scan_parcel(self, query: ScanQuery) -> ScanAnswer:
        self.scans.append(query)
        return self.scan_answer(query)

    async def locker_event(self, event: LockerEvent) -> None:
        if not isinstance(event, LockerEvent):
            raise TypeError(f"locker_event takes a LockerEvent, not {type(event).__name__}")
        locker_id = event.locker_id
        if self._in_hand[locker_id]:
            self.overlaps.append(event)
        self._in_hand[locker_id] += 1
        try:
            self.observe(event)
            self.handed_over.put_nowait(event)
            await asyncio.sleep(self._apply_s)
            if self.on_event is not None:
                await self.on_event(event)
        finally:
            self._in_hand[locker_id] -= 1

    # ---- for the kit ---------------------------------------------------------------------

    def advance(self, delta: timedelta) -> None:
        """Move the gateway's clock forward (or back, with a negative delta)."""
        self._offset += delta

    def observe(self, event: LockerEvent) -> None:
        """What the gateway does with presence: going offline ends the boot session."""
        if isinstance(event, PresenceChanged) and not event.online:
            self._booted.discard(event.locker_id)

    def booted_lockers(self) -> frozenset[str]:
        return frozenset(self._booted)

    def overlapping(self, locker_id: str) -> list[LockerEvent]:
        """Events of this locker handed over while an earlier one was still being applied."""
        return [event for event in self.overlaps if event.locker_id == locker_id]
