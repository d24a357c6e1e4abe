"""The newest `State` snapshot of each locker, kept raw and checked only when someone reads it.

A locker publishes `State` (retained, not journaled) whenever something changes; only the newest
one matters. Checking each one against its schema in the locker's lane would put a burst of
snapshots in front of its door events, so the receive loop just keeps the newest raw message
(replacing an unread older one) and `latest` decodes, validates and maps it on demand:
at most one check per read, however many snapshots came in between.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from adapters.olp.mapping import compartments_from_state
from gateway.sdk import CompartmentInfo
from gateway.sdk.errors import OpenLockerError
from gateway.sdk.olp_messages import OlpMessage, StateEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the newest valid `State` of a locker says."""

    compartments: tuple[CompartmentInfo, ...]
    firmware: str
    at: datetime


class StateSnapshots:
    """Per locker: the newest raw `State` not read yet, and the last one that checked out."""

    def __init__(self, decode: Callable[[bytes], OlpMessage]) -> None:
        self._decode = decode
        self._unread: dict[str, bytes] = {}
        self._checked: dict[str, Snapshot] = {}
        self.received = 0  # snapshots received since start
        self.checked = 0  # snapshots decoded and validated since start
        self.refused = 0  # of those, invalid ones (logged; the older snapshot is kept)

    def offer(self, locker_id: str, raw: bytes) -> None:
        """From the receive loop: O(1), replaces an older snapshot nobody has read yet."""
        self.received += 1
        self._unread[locker_id] = raw

    def latest(self, locker_id: str) -> Snapshot | None:
        """The newest valid snapshot; an invalid newer one is logged and the older one kept."""
        raw = self._unread.pop(locker_id, None)
        if raw is not None:
            fresh = self._check(locker_id, raw)
            known = self._checked.get(locker_id)
            # A snapshot older than the one we hold (a retained one after a newer live one)
            # must not roll the doors back.
            if fresh is not None and (known is None or fresh.at >= known.at):
                self._checked[locker_id] = fresh
        return self._checked.get(locker_id)

    def _check(self, locker_id: str, raw: bytes) -> Snapshot | None:
        self.checked += 1
        try:
            message = self._decode(raw)
        except OpenLockerError as err:
            self.refused += 1
            log.warning("ignoring invalid State of %s: %s", locker_id, err)
            return None
        if message.src != locker_id:
            self.refused += 1
            log.warning("ignoring State on %s's topic that claims src %r", locker_id, message.src)
            return None
        if not isinstance(message, StateEvent):
            self.refused += 1
            log.warning(
                "ignoring %s %s on %s's state topic", message.kind, message.action, locker_id
            )
            return None
        payload = message.payload
        return Snapshot(compartments_from_state(payload), payload.firmware, message.ts)
