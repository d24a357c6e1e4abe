"""Event replay: adapters whose lockers keep a numbered event journal (OLP `ReplayEvents`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplayReport:
    """The locker's answer to a replay request.

    `oldest_seq` is the oldest number its journal still holds (`last_seq + 1` when empty); above
    `after_seq + 1`, the events in between are lost for good.
    """

    after_seq: int
    replayed: int
    oldest_seq: int
    last_seq: int

    @property
    def lost(self) -> range:
        """The event numbers the journal no longer holds."""
        return range(self.after_seq + 1, max(self.after_seq + 1, self.oldest_seq))


@runtime_checkable
class SupportsEventReplay(Protocol):
    """Adapters that can ask a locker to publish its journaled events again (EVENT_REPLAY)."""

    async def replay_events(
        self, locker_id: str, after_seq: int, deadline: datetime
    ) -> ReplayReport:
        """Have the locker publish again, in order, its events numbered above `after_seq`;
        the adapter hands them to `host.locker_event` like any other. Answers once the locker
        confirmed."""
        ...
