"""Lockers' overload episodes in the audit trail: when a locker's lane on this instance began
refusing its messages, and when it drained, with how many it refused (issue 11).

An adapter's lanes tell the host twice per episode (`gateway.sdk.LockerLanes(on_overload=...)`),
from the MQTT receive loop or a lane's task, which must never wait for the database: the
entries are queued here and written by one background loop, several per transaction. The
audit trail is the record every instance shares: the console's "faults now" reads it
(gateway/console/reads.py), whichever instance the locker flooded. The counts per instance are
on /metrics (`openlocker_lane_overload_episodes_total`, `openlocker_lane_overloaded_lockers`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from gateway.domain.audit import AuditAction
from gateway.sdk.telemetry import LaneOverload
from gateway.store import Store

log = logging.getLogger(__name__)
# Entries waiting for the database at most; beyond (a database down while lockers flap in and
# out of overload) an entry is counted in `unrecorded` and logged, never kept without bound.
MAX_PENDING = 1000
# After a failed write: the entries stay queued and are tried again after this pause.
RETRY_PAUSE_S = 5.0


@dataclass(frozen=True, slots=True)
class _Entry:
    overload: LaneOverload


class LaneOverloads:
    """`OverloadWatcher` for the gateway's host; `run_forever` writes what it was told."""

    def __init__(
        self,
        *,
        store: Store,
        actor: str,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._store = store
        self._actor = actor
        self._max_pending = max_pending
        self._pending: deque[_Entry] = deque()
        self._wake = asyncio.Event()
        self.recorded = 0
        self.unrecorded = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # The adapters stopped first and ended their open episodes: write those too.
        try:
            await self.flush()
        except Exception:
            log.exception("lane overloads: %d entries not written at stop", len(self._pending))

    def lane_overloaded(self, overload: LaneOverload) -> None:
        """Queue the audit entry of an episode's start or end; never waits."""
        if len(self._pending) >= self._max_pending:
            self.unrecorded += 1
            log.warning(
                "lane overloads: %d entries wait for the database; locker %s's %s not audited "
                "(%d so far)",
                len(self._pending),
                overload.locker_id,
                "end" if overload.ended else "start",
                self.unrecorded,
            )
            return
        self._pending.append(_Entry(overload))
        self._wake.set()

    async def run_forever(self) -> None:
        """The one writer of this instance (run under `gateway.sdk.background`)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                # The entries stay queued: an overload is often a busy database's symptom.
                log.exception("lane overloads: writing the audit entries failed; retrying")
                await asyncio.sleep(RETRY_PAUSE_S)
                self._wake.set()

    async def flush(self) -> int:
        """Write every queued entry in one transaction; how many. Kept queued if it fails."""
        batch = list(self._pending)
        if not batch:
            return 0
        async with self._store.transaction() as tx:
            for entry in batch:
                o = entry.overload
                details: dict[str, object] = {"lanes": o.lanes}
                if o.ended:
                    details |= {"refused": o.refused, "seconds": round(o.seconds, 3)}
                await tx.audit.append(
                    AuditAction.LOCKER_OVERLOAD_ENDED if o.ended else AuditAction.LOCKER_OVERLOADED,
                    actor=self._actor,
                    subject=o.locker_id,
                    details=details,
                )
        for _ in batch:
            self._pending.popleft()
        self.recorded += len(batch)
        return len(batch)
