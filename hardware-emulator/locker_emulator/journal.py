"""The locker's event journal: events numbered 1, 2, 3... (`eventSeq`), kept for replays.

SPEC §9 "Event order and reconciliation". A real controller keeps this in flash; the emulator
keeps it in the locker model, which outlives reconnects and (simulated) power loss.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# SPEC §9: at least the last 1000 events younger than 7 days; older ones may be forgotten.
JOURNAL_LIMIT = 1000
JOURNAL_MAX_AGE = timedelta(days=7)

# Publishes one journaled event on its topic; False when it could not be sent (invalid).
Send = Callable[[str, dict[str, Any]], Awaitable[bool]]


@dataclass(slots=True)
class Entry:
    """One journaled event: the envelope exactly as it went (or goes) on the wire."""

    number: int
    at: datetime
    topic: str
    body: dict[str, Any]


class EventJournal:
    """Numbers every event in order and keeps the recent ones for `ReplayEvents`."""

    def __init__(self, *, limit: int = JOURNAL_LIMIT, max_age: timedelta = JOURNAL_MAX_AGE) -> None:
        if limit < 1:
            raise ValueError("a journal holds at least one event")
        self.limit = limit
        self.max_age = max_age
        self._entries: deque[Entry] = deque()
        self.last_seq = 0  # the newest number assigned
        self.sent_seq = 0  # the newest number handed to the wire: Boot's/Heartbeat's lastEventSeq
        # Held while an event goes on the wire: a replay runs as one block, so a newer event
        # never overtakes the replayed ones.
        self.wire = asyncio.Lock()

    def record(self, topic: str, body: dict[str, Any], at: datetime) -> int:
        """Give the event the next number (stamped into `body` as `eventSeq`) and keep it."""
        self.last_seq += 1
        body["eventSeq"] = self.last_seq
        self._entries.append(Entry(self.last_seq, at, topic, body))
        self.prune(at)
        return self.last_seq

    def sending(self, body: dict[str, Any]) -> None:
        """The event is about to go on the wire (called before the publish is awaited)."""
        number = body.get("eventSeq")
        if isinstance(number, int):
            self.sent_seq = max(self.sent_seq, number)

    def prune(self, now: datetime) -> None:
        """Forget events beyond the size limit or older than the age limit."""
        while self._entries and (
            len(self._entries) > self.limit or now - self._entries[0].at > self.max_age
        ):
            self._entries.popleft()

    def forget(self, keep: int = 0) -> None:
        """Drop all but the newest `keep` events, as a worn or wiped flash would."""
        if keep < 0:
            raise ValueError("keep must not be negative")
        while len(self._entries) > keep:
            self._entries.popleft()

    @property
    def oldest_seq(self) -> int:
        """The oldest number still held; `last_seq + 1` when the journal is empty."""
        return self._entries[0].number if self._entries else self.last_seq + 1

    def after(self, after_seq: int) -> list[Entry]:
        """The held events numbered above `after_seq` that have been on the wire before."""
        return [e for e in self._entries if after_seq < e.number <= self.sent_seq]

    async def replay(self, after_seq: int, send: Send) -> dict[str, Any]:
        """Publish the events after `after_seq` again, unchanged and in order; the result."""
        replayed = 0
        async with self.wire:
            for entry in self.after(after_seq):
                if await send(entry.topic, entry.body):
                    replayed += 1
        return {"replayed": replayed, "oldestSeq": self.oldest_seq, "lastSeq": self.last_seq}

    def json(self) -> dict[str, Any]:
        """The journal for the control API."""
        return {
            "size": len(self._entries),
            "oldestSeq": self.oldest_seq,
            "lastSeq": self.last_seq,
            "sentSeq": self.sent_seq,
        }

    def __len__(self) -> int:
        return len(self._entries)
