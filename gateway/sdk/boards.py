"""What every adapter of polled lock boards needs: boot sessions, the poll loop, deadlines.

Boards on RS-485 or Modbus never report by themselves, so their adapters all do the same
chores around the protocol: ask the gateway whether a locker may operate at its first good poll
(again after every outage, and now and then while it is refused), keep a locker's events to
themselves until it is accepted, drop a poll result that an unlock has overtaken, keep polling
whatever one poll throws, and turn the gateway's deadline into a timeout for one request.
`PolledLocker`, `poll_forever` and `seconds_left` do these chores once, for every such adapter,
and `BoardEvents` hands the events to the gateway (`host.locker_event`) from one lane per locker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self, TypeVar

from gateway.sdk.adapter import AdapterHost, BootInfo, BootStatus
from gateway.sdk.errors import AdapterTimeout, LockerNotConnected
from gateway.sdk.events import LockerEvent
from gateway.sdk.lanes import LaneStats, LockerLanes
from gateway.sdk.polling import DoorReading, PollTracker

__all__ = ["BoardEvents", "PolledLocker", "poll_forever", "seconds_left"]

log = logging.getLogger(__name__)
T = TypeVar("T")


def seconds_left(
    deadline: datetime, now: datetime, *, what: str, cap: float | None = None
) -> float:
    """Seconds from `now` to `deadline`, at most `cap`; AdapterTimeout once it has passed."""
    remaining = (deadline - now).total_seconds()
    if remaining <= 0:
        raise AdapterTimeout(f"{what}: the deadline has passed")
    return remaining if cap is None else min(cap, remaining)


class PolledLocker:
    """One polled locker: its `PollTracker`, its boot session, and the order of its reads."""

    def __init__(
        self,
        *,
        locker_id: str,
        host: AdapterHost,
        offline_after: int = 2,
        boot_retry_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if boot_retry_s <= 0:
            raise ValueError(f"boot_retry_s must be positive, not {boot_retry_s}")
        self.locker_id = locker_id
        self.tracker = PollTracker(locker_id=locker_id, clock=host.now, offline_after=offline_after)
        self._host = host
        self._boot_retry_s = boot_retry_s
        self._clock = clock
        self._booted = False
        # Whether the gateway ever accepted this locker, and whether its last answer was no.
        self._accepted_once = False
        self._refused = False
        self._ask_again_at = 0.0
        self._tickets = 0
        self._applied: dict[Hashable, int] = {}

    @property
    def booted(self) -> bool:
        """Whether the gateway accepted this locker's current session."""
        return self._booted

    async def boot(self, info: Callable[[], BootInfo]) -> bool:
        """Ask the gateway (once per session) whether the locker may operate; True if it may.

        While the gateway refuses (a locker not provisioned yet, say), it is asked again after
        `boot_retry_s`, or after the gateway's heartbeat interval if that is shorter; calls in
        between return False at once. `info` is built only when the gateway is asked.
        """
        if self._booted:
            return True
        now = self._clock()
        if now < self._ask_again_at:
            return False
        decision = await self._host.authorize_boot(self.locker_id, info())
        if decision.status is BootStatus.ACCEPTED:
            self._booted, self._accepted_once, self._refused = True, True, False
            self._ask_again_at = 0.0
            log.info("locker %s booted", self.locker_id)
            return True
        self._refused = True
        retry_s = min(self._boot_retry_s, decision.heartbeat_interval_s)
        self._ask_again_at = now + retry_s
        log.warning(
            "locker %s boot %s: %s; asking again in %g s",
            self.locker_id,
            decision.status,
            decision.reason or "no reason given",
            retry_s,
        )
        return False

    def require_booted(self, what: str) -> None:
        """Before a command: LockerNotConnected unless the locker is accepted and online."""
        if not self._booted:
            raise LockerNotConnected(
                f"{what}: locker {self.locker_id} is offline or was not accepted",
                details={"locker": self.locker_id},
            )

    def ticket(self) -> int:
        """Number a read just before it goes out; pass the number to `observe`."""
        self._tickets += 1
        return self._tickets

    def observe(
        self,
        readings: Mapping[str, DoorReading],
        *,
        ticket: int | None = None,
        part: Hashable = None,
    ) -> list[LockerEvent]:
        """A read succeeded: the events to pass on to the gateway.

        A read older (by ticket) than one already applied to the same `part` (one board of
        several, or None for the whole locker) is dropped: a poll that read a door just before
        an unlock must not report it shut again after the unlock reported it open. Until the
        gateway first accepts the locker, and while it refuses it, the tracker learns the
        readings but no event is passed on (the boot info carries the state). Between an outage
        and the boot that follows it events do pass on: a door an unlock opened is reported.
        """
        if ticket is not None:
            if ticket < self._applied.get(part, -1):
                log.debug("locker %s: dropping a read overtaken by a newer one", self.locker_id)
                return []
            self._applied[part] = ticket
        events = self.tracker.observe(readings)
        return events if self._accepted_once and not self._refused else []

    def retract(self, events: Sequence[LockerEvent]) -> None:
        """The gateway did not take these events: the next poll reports their changes again."""
        self.tracker.retract(events)

    def failed(self, reason: str) -> list[LockerEvent]:
        """A poll failed: PresenceChanged(offline) once `offline_after` polls in a row failed.

        Going offline also ends the boot session: the locker boots again when it returns. The
        event is passed on unless the gateway refused the locker: one dark from the start is
        reported offline, one the gateway does not know is not reported at all.
        """
        events = self.tracker.failed(reason)
        if not events:
            return []
        self._booted = False
        return [] if self._refused else events


class BoardEvents:
    """Hands a board adapter's events to the gateway from one lane per locker, never waiting.

        async with BoardEvents("kerong-cu16", host) as events:     # in the adapter's stack
            events.publish(polled, polled.observe(readings, ticket=ticket))

    Each locker's events go, in order, into its own `LockerLanes` lane, whose task awaits
    `host.locker_event` for one event at a time. `publish` never waits, so neither a poll loop
    nor an unlock waits for the gateway's database: a locker whose events are slow to apply
    holds up only itself (not the other lockers on its bus), and an unlock the gateway asks for
    while it handles one of this locker's events (a keypad code opens a door on the same bus)
    cannot deadlock with the lane it was called from.

    Overload: a full lane (the gateway is `capacity` events behind that locker) refuses the
    events that do not fit; they are retracted from the locker's `PollTracker` instead of being
    dropped or waited for, so the next poll sees the same state and reports the change again
    once there is room. A door that opened and shut again in between is missed, exactly as if
    it had moved between two polls. The lane logs each overload episode once and counts every
    refusal (`stats().refused`).
    """

    def __init__(self, name: str, host: AdapterHost, *, capacity: int = 256) -> None:
        self.name = name
        self._host = host
        self._lanes: LockerLanes[LockerEvent] = LockerLanes(
            name, handler=self._hand_over, capacity=capacity
        )
        self._running = False

    async def __aenter__(self) -> Self:
        await self._lanes.__aenter__()
        self._running = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._running = False
        await self._lanes.__aexit__(exc_type, exc, tb)

    def publish(self, polled: PolledLocker, events: Sequence[LockerEvent]) -> None:
        """Queue one locker's `events`, in order, for the gateway; never waits."""
        if not events:
            return
        if not self._running:
            # An unlock's reply that came in while the adapter stops: the boot after the next
            # start carries the door's state.
            log.info(
                "%s stopping: %d event(s) of %s not handed over",
                self.name,
                len(events),
                polled.locker_id,
            )
            return
        for index, event in enumerate(events):
            if not self._lanes.offer(polled.locker_id, event):
                # Nothing runs between two offers: the rest of the batch would be refused too.
                polled.retract(events[index:])
                return

    def stats(self) -> LaneStats:
        return self._lanes.stats()

    async def _hand_over(self, locker_id: str, event: LockerEvent) -> None:
        await self._host.locker_event(event)


async def poll_forever(
    *,
    interval_s: float,
    lockers: Mapping[str, T],
    poll: Callable[[T], Awaitable[None]],
    stopped: Callable[[], bool] = lambda: False,
) -> None:
    """Poll every locker (id -> what `poll` takes) in turn, one round per `interval_s`.

    Runs until cancelled or until `stopped()` says so. An exception from one poll is logged
    and never ends the loop: one bad reply or codec bug must not stop a bus, let alone the
    gateway. `poll` handles the errors it expects (timeouts: `PolledLocker.failed`) itself.
    """
    while not stopped():
        started = time.monotonic()
        for locker_id, locker in lockers.items():
            if stopped():
                return
            try:
                await poll(locker)
            except Exception:
                log.exception("polling locker %s failed", locker_id)
        await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - started)))
