"""Locker presence and boot state, shared by all gateway instances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import locker_sessions as t


@dataclass(frozen=True, slots=True)
class LockerSession:
    locker_id: str
    online: bool
    booted_at: datetime | None
    last_seen_at: datetime | None
    firmware: str | None
    boot_info: dict[str, Any] | None

    @property
    def booted(self) -> bool:
        return self.booted_at is not None


class LockerSessionRepository(Repository):
    async def get(self, locker_id: str) -> LockerSession | None:
        row = (await self._conn.execute(select(t).where(t.c.locker_id == locker_id))).mappings()
        found = row.first()
        if found is None:
            return None
        return LockerSession(
            locker_id=found["locker_id"],
            online=found["online"],
            booted_at=found["booted_at"],
            last_seen_at=found["last_seen_at"],
            firmware=found["firmware"],
            boot_info=found["boot_info"],
        )

    async def _upsert(self, locker_id: str, **values: Any) -> None:
        now = self._clock()
        row = {"locker_id": locker_id, "online": False, "updated_at": now, **values}
        if not await insert_if_absent(self._conn, t, row):
            await self._conn.execute(
                update(t).where(t.c.locker_id == locker_id).values(updated_at=now, **values)
            )

    async def mark_booted(
        self, locker_id: str, at: datetime, firmware: str, boot_info: dict[str, Any]
    ) -> None:
        await self._upsert(
            locker_id,
            online=True,
            booted_at=at,
            last_seen_at=at,
            firmware=firmware,
            boot_info=boot_info,
        )

    async def set_online(self, locker_id: str, online: bool, at: datetime) -> None:
        """Presence from the retained status; going offline ends the boot session."""
        if online:
            await self._upsert(locker_id, online=True, last_seen_at=at)
        else:
            await self._upsert(locker_id, online=False, booted_at=None)

    async def seen(self, locker_id: str, at: datetime) -> None:
        await self._conn.execute(
            update(t).where(t.c.locker_id == locker_id).values(last_seen_at=at)
        )
