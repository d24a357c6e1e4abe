"""Boot gating: which locker may operate, and telling key distribution of each accepted boot."""

from __future__ import annotations

import logging
from collections.abc import Callable

from gateway.clock import Clock, utc_now
from gateway.sdk import BootDecision, BootInfo, BootStatus
from gateway.service.boot_admission import BootAdmission
from gateway.service.event_order import EventMarks
from gateway.service.presence import Presence
from gateway.store import Store

log = logging.getLogger(__name__)

# Told of every accepted Boot: (locker id, key-set version the locker reported).
BootListener = Callable[[str, int | None], None]

# Boots in the database at once per instance ([lockers] boot_concurrency).
DEFAULT_BOOT_CONCURRENCY = 32


class BootGate:
    def __init__(
        self,
        *,
        store: Store,
        heartbeat_interval_s: int = 60,
        on_booted: BootListener | None = None,
        clock: Clock = utc_now,
        marks: EventMarks | None = None,
        presence: Presence | None = None,
        admission: BootAdmission | None = None,
    ) -> None:
        """`marks` learns the event mark each accepted Boot read (EventOrder's), `presence`
        that the Boot wrote the session online; `admission` bounds the Boots in the database
        at once (the others are answered `Pending`; see boot_admission.py)."""
        self._store = store
        self._admission = admission or BootAdmission(limit=DEFAULT_BOOT_CONCURRENCY)
        self._marks = marks
        self._presence = presence
        self._heartbeat_s = heartbeat_interval_s
        self._on_booted = on_booted
        self._clock = clock

    async def authorize_boot(self, locker_id: str, info: BootInfo) -> BootDecision:
        """A provisioned locker is accepted (its boot recorded); any other is rejected; while
        the admission is full, any is answered `Pending` with a least wait, unread.

        One transaction, one statement (a second one only to name compartments the Boot
        reports that are not provisioned): the boot storm is paid per round trip
        (bench/boot_storm.py). The event mark it reads is handed to EventOrder, so the Boot's
        journal report that follows needs no transaction of its own."""
        turned_away = self._admission.enter(locker_id)
        if turned_away is not None:
            # Before any database work: that is the point (boot_admission.py).
            log.debug(
                "locker %s Boot pending: %d in the database, %d waiting; back in %d s",
                locker_id,
                turned_away.in_flight,
                turned_away.backlog,
                turned_away.wait_s,
            )
            return BootDecision(BootStatus.PENDING, turned_away.wait_s, "gateway busy")
        try:
            return await self._admitted_boot(locker_id, info)
        finally:
            self._admission.leave()

    @property
    def admission(self) -> BootAdmission:
        return self._admission

    async def _admitted_boot(self, locker_id: str, info: BootInfo) -> BootDecision:
        details = {"vendor": info.vendor, "model": info.model, "serial": info.serial_number}
        reported = [c.code for c in info.compartments]
        async with self._store.transaction() as tx:
            booted = await tx.sessions.mark_booted(
                locker_id,
                self._clock(),
                info.firmware,
                details,
                key_set_version=info.key_set_version,
                compartments=reported,
            )
            if booted is not None and not booted.all_compartments_known:
                # Diagnostic only (the locker is accepted either way): an operator should
                # provision what the hardware has, or parcels never go into those doors.
                known = {c.code for c in await tx.lockers.compartments(locker_id)}
                extra = sorted(set(reported) - known)
                log.warning("locker %s reports unprovisioned compartments %s", locker_id, extra)
        if booted is None:
            log.warning("boot of unknown locker %s rejected", locker_id)
            return BootDecision(BootStatus.REJECTED, self._heartbeat_s, "unknown locker")
        if self._marks is not None:
            self._marks.saw(locker_id, booted.event_mark)
        if self._presence is not None:
            self._presence.booted(locker_id)
        log.info("locker %s booted (firmware %s)", locker_id, info.firmware)
        if self._on_booted is not None:
            self._on_booted(locker_id, info.key_set_version)
        return BootDecision(BootStatus.ACCEPTED, self._heartbeat_s)

    async def is_booted(self, locker_id: str) -> bool:
        async with self._store.transaction() as tx:
            session = await tx.sessions.get(locker_id)
        return session is not None and session.booted
