"""A locker became reachable or not: its session row, in the event's transaction."""

from __future__ import annotations

import logging

from gateway.sdk import PresenceChanged
from gateway.store import UnitOfWork

log = logging.getLogger(__name__)


class Presence:
    def __init__(self) -> None:
        # Lockers whose Boot this instance accepted, with no offline report since: their
        # session row says online (the Boot wrote it).
        self._online: set[str] = set()
        # Reports of lockers the network does not know, ignored (counted, for tests/metrics).
        self.unknown_lockers = 0

    def booted(self, locker_id: str) -> None:
        """An accepted Boot wrote the session online (BootGate, `mark_booted`)."""
        self._online.add(locker_id)

    def redundant(self, event: PresenceChanged) -> bool:
        """True for an online report the session row already holds: no transaction for it.

        A locker publishes Status online on every connect, then Boots (and a broker restart
        reconnects every locker at once, with no offline in between): each Status was a
        transaction of its own, most of the gateway's work in a boot storm
        (bench/boot_storm.py). The OLP adapter applies an online Status after the Boot queued
        behind it, so the Boot is not kept waiting, and this makes it free. Safe: the accepted
        Boot wrote online = true and only an offline report writes false. Every instance
        receives every Status (the status topic is not shared), so the offline one ends the
        record here too (`changed`); should another instance write it first and the locker
        come back before this one sees it, that instance (no record any more) writes the
        online, and the Boot the locker must send after going offline writes it in any case.
        The session's `last_seen_at` moves with Boots then, not with these reports.
        """
        return event.online and event.locker_id in self._online

    async def changed(self, tx: UnitOfWork, event: PresenceChanged) -> None:
        """Going offline ends the boot session: the locker must boot again to operate."""
        if not event.online:
            self._online.discard(event.locker_id)
        if await tx.lockers.get(event.locker_id) is None:
            # Any client allowed on a status topic can name any locker id: one the network
            # does not know has no session row to write (the insert broke its foreign key,
            # and each report was parked as a failure with a traceback; found by
            # tests/fuzz/mqtt). Nothing to do: it must be provisioned, then Boot.
            self.unknown_lockers += 1
            log.info("ignoring presence of unknown locker %s", event.locker_id)
            return
        await tx.sessions.set_online(event.locker_id, event.online, event.at)
