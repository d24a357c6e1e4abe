"""How far each locker's clock is from the gateway's, learned from its live Boot and Heartbeat.

A journaled event carries the locker's own time (`ts`); a replay delivers it late on purpose.
Its age is therefore measured on the locker's clock, corrected by the offset its last live
report showed (gateway time at receipt minus the report's `ts`, so transit delay counts as
age, never against it). With no report seen yet by this instance the offset is 0: the
message's `ts` is taken as it is (SPEC §9 "Keypad entries are live").
"""

from __future__ import annotations

from datetime import datetime, timedelta


class LockerClocks:
    """Per-instance memory of each locker's clock offset (one timedelta per locker)."""

    def __init__(self) -> None:
        self._offsets: dict[str, timedelta] = {}

    def live(self, locker_id: str, locker_at: datetime, received_at: datetime) -> None:
        """A report the locker sent just now (Boot, Heartbeat): not replayed, not queued."""
        self._offsets[locker_id] = received_at - locker_at

    def age(self, locker_id: str, locker_at: datetime, now: datetime) -> timedelta:
        """How long ago the locker did what it stamped `locker_at`, on the gateway's clock."""
        return now - (locker_at + self._offsets.get(locker_id, timedelta(0)))
