"""Turn successive polls of a locker's door and item sensors into events and presence.

Adapters for lock-control boards that cannot report by themselves (RS-485, Modbus) poll them.
`PollTracker` compares each snapshot with the last one and says what happened in between:
DoorOpened, DoorClosed (with what the item sensor saw at that moment), and PresenceChanged
when polls start failing or succeed again. The first snapshot is only a baseline: nothing
moved yet as far as the tracker knows.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from gateway.domain.enums import DoorState, ItemSensor
from gateway.sdk.events import DoorClosed, DoorOpened, LockerEvent, PresenceChanged

__all__ = ["DoorReading", "PollTracker", "unpack_bits"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DoorReading:
    """One compartment in one poll."""

    door_closed: bool
    item: ItemSensor = ItemSensor.UNKNOWN

    @property
    def door(self) -> DoorState:
        return DoorState.CLOSED if self.door_closed else DoorState.OPEN


def unpack_bits(data: bytes | Sequence[int], count: int) -> list[bool]:
    """Bitmaps as boards send them: bit 0 of the first byte is the first lock, LSB first."""
    if count > 8 * len(data):
        raise ValueError(f"{len(data)} byte(s) hold at most {8 * len(data)} bits, not {count}")
    return [bool(data[index // 8] >> (index % 8) & 1) for index in range(count)]


class PollTracker:
    """The last known state of one locker, fed by polls; returns the events each poll reveals."""

    def __init__(
        self,
        *,
        locker_id: str,
        clock: Callable[[], datetime],
        offline_after: int = 2,
    ) -> None:
        if offline_after < 1:
            raise ValueError(f"offline_after must be at least 1, not {offline_after}")
        self.locker_id = locker_id
        self._clock = clock
        self._offline_after = offline_after
        self._readings: dict[str, DoorReading] = {}
        self._failures = 0
        self._online: bool | None = None
        self.last_seen: datetime | None = None
        self.last_error: str | None = None

    @property
    def online(self) -> bool:
        """True once a poll succeeded and until `offline_after` polls in a row failed."""
        return bool(self._online)

    @property
    def readings(self) -> Mapping[str, DoorReading]:
        """The last reading of every compartment seen so far."""
        return dict(self._readings)

    def observe(self, readings: Mapping[str, DoorReading]) -> list[LockerEvent]:
        """A poll (or a command's status reply) succeeded: the events since the last one.

        `readings` may cover only some compartments (one board of several); the others keep
        their last reading.
        """
        now = self._clock()
        self.last_seen = now
        self._failures = 0
        self.last_error = None
        events: list[LockerEvent] = []
        if self._online is not True:
            self._online = True
            events.append(self._presence(now, online=True))
        for code, reading in readings.items():
            before = self._readings.get(code)
            self._readings[code] = reading
            if before is None or before.door_closed == reading.door_closed:
                continue
            if reading.door_closed:
                events.append(
                    DoorClosed(
                        locker_id=self.locker_id,
                        at=now,
                        event_id=_event_id(),
                        compartment_code=code,
                        item=reading.item,
                    )
                )
            else:
                events.append(
                    DoorOpened(
                        locker_id=self.locker_id,
                        at=now,
                        event_id=_event_id(),
                        compartment_code=code,
                    )
                )
        return events

    def retract(self, events: Iterable[LockerEvent]) -> None:
        """The gateway did not take these events (their lane was full): forget the changes
        they reported, so that the next poll that sees the same state reports them again.

        Until that poll, `readings` and `online` show what the gateway was last told.
        """
        for event in events:
            if isinstance(event, PresenceChanged):
                # Back online unreported: unknown again, so the next good poll says online.
                # Offline unreported: still online, and the failures counted so far stand,
                # so the next failed poll says offline.
                self._online = None if event.online else True
            elif isinstance(event, DoorOpened | DoorClosed):
                code = event.compartment_code
                before = self._readings.get(code)
                if before is not None:
                    self._readings[code] = DoorReading(
                        door_closed=isinstance(event, DoorOpened), item=before.item
                    )

    def failed(self, reason: str) -> list[LockerEvent]:
        """A poll failed; after `offline_after` failures in a row the locker is offline."""
        self._failures += 1
        self.last_error = reason
        if self._failures < self._offline_after or self._online is False:
            return []
        self._online = False
        log.warning("locker %s offline: %s", self.locker_id, reason)
        return [self._presence(self._clock(), online=False, reason=reason)]

    def _presence(self, at: datetime, *, online: bool, reason: str | None = None) -> LockerEvent:
        details = {"reason": reason} if reason else {}
        return PresenceChanged(
            locker_id=self.locker_id,
            at=at,
            event_id=_event_id(),
            online=online,
            details=details,
        )


def _event_id() -> str:
    # The gateway deduplicates on (locker, event id) across restarts: ids must never repeat.
    return uuid.uuid4().hex
