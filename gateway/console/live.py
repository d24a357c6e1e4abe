"""The live feed behind the locker pages: one poller per gateway process, fanned out in-process
to every open server-sent-events stream.

Why a poller over the committed state, and not an in-process publish hook or an id tail:
- Several gateway instances serve one network. A door event applied by instance B must show
  on a page served by instance A, so the feed has to read what was *committed*, wherever it
  was written; an in-process hook would only see its own instance's writes.
- The services publish their stream as committed rows (parcel events, the outbox, the audit
  chain), but a grid changes on more than those: a door opening or an item sensor changes only
  the compartment row. Every such change, from any writer, ends in the `compartments` and
  `locker_sessions` rows, so the feed compares exactly what the grid shows.
- Tailing an autoincrement id (`parcel_events.id`) misses rows on PostgreSQL: ids are taken at
  insert and committed in another order, so a tail that moved past id 41 never sees 40
  committed after it. Comparing state has no such gap: whatever committed is what it reads.
Cost: one pair of indexed queries per tick for all *watched* lockers together, and none while
nobody watches; a change shows within one tick (`interval_s`, 0.5 s by default).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from gateway.console.reads import ConsoleReads, GridPrint

log = logging.getLogger(__name__)
DEFAULT_INTERVAL_S = 0.5
# A failing database must not spin the loop or flood the log.
ERROR_PAUSE_S = 5.0


@dataclass(eq=False, slots=True)
class Watcher:
    """One open stream's mailbox: the newest print of its locker (older ones are superseded)."""

    locker_id: str
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    latest: GridPrint | None = None
    closed: bool = False

    def push(self, found: GridPrint | None) -> None:
        self.latest = found
        self.changed.set()

    def close(self) -> None:
        self.closed = True
        self.changed.set()


class LiveFeed:
    """Polls the grids of watched lockers and wakes their watchers when a grid changed."""

    def __init__(self, *, reads: ConsoleReads, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self._reads = reads
        self._interval_s = interval_s
        self._watchers: set[Watcher] = set()
        self._prints: dict[str, GridPrint] = {}
        self._wake = asyncio.Event()
        self._closing = False

    @contextmanager
    def watch(self, locker_id: str) -> Iterator[Watcher]:
        """A mailbox for one stream, for the lifetime of the block."""
        watcher = Watcher(locker_id)
        if self._closing:
            watcher.close()
        self._watchers.add(watcher)
        self._wake.set()  # the first watcher of a locker gets its first print at once
        try:
            yield watcher
        finally:
            self._watchers.discard(watcher)

    @property
    def watchers(self) -> int:
        return len(self._watchers)

    def close_all(self) -> None:
        """The server is stopping: every stream ends now rather than hold the shutdown up."""
        self._closing = True
        for watcher in list(self._watchers):
            watcher.close()

    async def run_forever(self) -> None:
        """The one poller of this process (run under `gateway.sdk.background`)."""
        while True:
            try:
                await self.tick()
            except Exception:
                # The feed must outlive a database hiccup; pages keep their last grid.
                log.exception("console live feed: reading the grids failed; retrying")
                await asyncio.sleep(ERROR_PAUSE_S)
                continue
            self._wake.clear()
            idle = not self._watchers
            try:
                # Asleep until someone watches; else one tick per interval.
                async with asyncio.timeout(None if idle else self._interval_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def tick(self) -> None:
        """Read every watched grid once; wake the watchers of those that changed."""
        watched = {w.locker_id for w in self._watchers}
        # Forget lockers nobody watches any more, so a returning page gets a fresh print.
        self._prints = {k: v for k, v in self._prints.items() if k in watched}
        if not watched:
            return
        found = await self._reads.grid_prints(watched)
        for locker_id in watched:
            now = found.get(locker_id)
            if now is None or self._prints.get(locker_id) == now:
                if now is not None:
                    self._first_prints(locker_id, now)
                continue
            self._prints[locker_id] = now
            for watcher in list(self._watchers):
                if watcher.locker_id == locker_id:
                    watcher.push(now)

    def _first_prints(self, locker_id: str, now: GridPrint) -> None:
        # A stream that joined after the last change still needs its first print.
        for watcher in list(self._watchers):
            if watcher.locker_id == locker_id and watcher.latest is None:
                watcher.push(now)
