"""A recording AdapterHost for the conformance kit: accepts boots, mirrors presence, has a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.sdk.adapter import BootDecision, BootInfo
from gateway.sdk.events import LockerEvent, PresenceChanged
from gateway.wire.olp_enums import BootStatus


@dataclass(frozen=True, slots=True)
class RecordedBoot:
    """One boot the adapter asked the host to authorise."""

    locker_id: str
    info: BootInfo
    at: datetime


class RecordingHost:
    """Stands in for the gateway behind an adapter under test (implements `AdapterHost`).

    It accepts every boot and records it; `is_booted` answers as the gateway's database would:
    a locker is booted from its accepted boot until it is reported offline (the kit feeds it
    every event the adapter emits, through `observe`). `now()` is the real UTC clock shifted by
    `advance()`, so a test can move the gateway's time without sleeping.
    """

    def __init__(
        self,
        *,
        heartbeat_interval_s: int = 60,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.heartbeat_interval_s = heartbeat_interval_s
        self.boots: list[RecordedBoot] = []
        self._clock = clock or (lambda: datetime.now(UTC))
        self._offset = timedelta()
        self._booted: set[str] = set()

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
