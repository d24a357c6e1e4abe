"""A short cache of each carrier's delivery targets (active webhook subscriptions and connector
attachments), one per engine.

Every parcel transition queues its event for these targets in its own transaction
(gateway/service/notifications.py): two statements per transition, for rows that change
rarely (a carrier subscribes, an operator attaches a connector, the delivery engine stops an
attachment answering 410 Gone). Every such change goes through WebhookRepository or
ConnectorAttachmentRepository, which empty this process's cache when they write and again once
the writing transaction has committed (Store.transaction); a read that overlapped a change is
not kept (`generation`). Another instance's change is seen when an entry expires: `TTL_S`
is how long an event may still miss a new subscription there, or be queued for one just
stopped (the delivery engine reads each target when it sends, and sends to no inactive one).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection

# How long an entry is used: short, since another instance's change is seen only then (the
# delivery engine's own caches of these rows keep theirs as long: webhook_routes.py).
TTL_S = 2.0


class TargetsCache:
    """Per carrier, the targets as last read, with when; emptied by any change here."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[float, Any]] = {}
        self._generation = 0

    def read(self, carrier_id: str) -> tuple[Any | None, int]:
        """The carrier's cached targets (None: read them) and the ticket to `keep` them with."""
        entry = self._entries.get(carrier_id)
        if entry is not None and self._clock() - entry[0] < TTL_S:
            return entry[1], self._generation
        return None, self._generation

    def keep(self, carrier_id: str, ticket: int, targets: Any) -> None:
        """Cache what was read since `read` gave `ticket`, unless a change came meanwhile."""
        if ticket == self._generation:
            self._entries[carrier_id] = (self._clock(), targets)

    def invalidate(self) -> None:
        self._generation += 1
        self._entries.clear()


# One per engine (the database it reads), like the audit head (audit.py).
_CACHES: weakref.WeakKeyDictionary[Engine, TargetsCache] = weakref.WeakKeyDictionary()


def targets_cache(engine: Engine) -> TargetsCache:
    cache = _CACHES.get(engine)
    if cache is None:
        cache = _CACHES[engine] = TargetsCache()
    return cache


class ChangesTargets:
    """Mixin of the repositories whose writes change carriers' targets: each write empties
    the cache at once, and the transaction empties it again when it commits."""

    _conn: AsyncConnection
    targets_changed = False  # read by Store.transaction after the commit

    def _changing_targets(self) -> None:
        self.targets_changed = True
        targets_cache(self._conn.sync_engine).invalidate()
