"""A locker became reachable or not: its session row, in the event's transaction."""

from __future__ import annotations

from gateway.sdk import PresenceChanged
from gateway.store import UnitOfWork


class Presence:
    async def changed(self, tx: UnitOfWork, event: PresenceChanged) -> None:
        """Going offline ends the boot session: the locker must boot again to operate."""
        await tx.sessions.set_online(event.locker_id, event.online, event.at)
