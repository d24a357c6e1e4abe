"""Boot gating: which locker may operate, and telling key distribution of each accepted boot."""

from __future__ import annotations

import logging
from collections.abc import Callable

from gateway.clock import Clock, utc_now
from gateway.sdk import BootDecision, BootInfo, BootStatus
from gateway.store import Store

log = logging.getLogger(__name__)

# Told of every accepted Boot: (locker id, key-set version the locker reported).
BootListener = Callable[[str, int | None], None]


class BootGate:
    def __init__(
        self,
        *,
        store: Store,
        heartbeat_interval_s: int = 60,
        on_booted: BootListener | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._heartbeat_s = heartbeat_interval_s
        self._on_booted = on_booted
        self._clock = clock

    async def authorize_boot(self, locker_id: str, info: BootInfo) -> BootDecision:
        """A provisioned locker is accepted (its boot recorded); any other is rejected."""
        async with self._store.transaction() as tx:
            if await tx.lockers.get(locker_id) is None:
                log.warning("boot of unknown locker %s rejected", locker_id)
                return BootDecision(BootStatus.REJECTED, self._heartbeat_s, "unknown locker")
            known = {c.code for c in await tx.lockers.compartments(locker_id)}
            extra = sorted({c.code for c in info.compartments} - known)
            if extra:
                log.warning("locker %s reports unprovisioned compartments %s", locker_id, extra)
            details = {"vendor": info.vendor, "model": info.model, "serial": info.serial_number}
            await tx.sessions.mark_booted(locker_id, self._clock(), info.firmware, details)
            await tx.sessions.set_key_set_version(locker_id, info.key_set_version)
        log.info("locker %s booted (firmware %s)", locker_id, info.firmware)
        if self._on_booted is not None:
            self._on_booted(locker_id, info.key_set_version)
        return BootDecision(BootStatus.ACCEPTED, self._heartbeat_s)

    async def is_booted(self, locker_id: str) -> bool:
        async with self._store.transaction() as tx:
            session = await tx.sessions.get(locker_id)
        return session is not None and session.booted
