"""Locker presence and boot state, shared by all gateway instances."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import compartments as compartments_table
from gateway.store.tables import locker_sessions as t
from gateway.store.tables import lockers


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


@dataclass(frozen=True, slots=True)
class BootRecorded:
    """What recording an accepted Boot read on the way."""

    event_mark: int  # the highest journaled event processed
    all_compartments_known: bool  # every compartment the Boot reported is provisioned


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
        self,
        locker_id: str,
        at: datetime,
        firmware: str,
        boot_info: dict[str, Any],
        *,
        key_set_version: int | None = None,
        compartments: Collection[str] = (),
    ) -> BootRecorded | None:
        """An accepted Boot in ONE statement; None (nothing written) when no such locker is
        provisioned.

        `INSERT … SELECT FROM lockers WHERE id = … ON CONFLICT DO UPDATE … RETURNING`: the
        provisioning check, the session upsert (online, booted, what the Boot reported, the
        key-set version it holds), the read of the event mark that the Boot's journal report
        compares with, and how many of the reported `compartments` are provisioned, in one
        round trip (bench/boot_storm.py: a boot's cost is its round trips). The SELECT's WHERE
        also settles SQLite's INSERT-SELECT-ON-CONFLICT parsing ambiguity.
        """
        values: dict[str, Any] = {
            "online": True,
            "booted_at": at,
            "last_seen_at": at,
            "firmware": firmware,
            "boot_info": boot_info,
            "key_set_version": key_set_version,
            "updated_at": self._clock(),
        }
        names = ["locker_id", *values]
        source = select(
            lockers.c.id, *(literal(v, t.c[name].type) for name, v in values.items())
        ).where(lockers.c.id == locker_id)
        codes = sorted(set(compartments))
        known = (
            select(func.count())
            .select_from(compartments_table)
            .where(
                compartments_table.c.locker_id == locker_id,
                compartments_table.c.code.in_(codes),
            )
            .scalar_subquery()
            if codes
            else literal(0)
        )
        dialect = postgresql if self._postgres else sqlite
        stmt = dialect.insert(t).from_select(names, source)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.locker_id],
            set_={name: stmt.excluded[name] for name in values},
        ).returning(t.c.event_seq, known)
        row = (await self._conn.execute(stmt)).first()
        if row is None:
            return None
        return BootRecorded(event_mark=int(row[0]), all_compartments_known=row[1] == len(codes))

    async def set_online(self, locker_id: str, online: bool, at: datetime) -> None:
        """Presence from the retained status; going offline ends the boot session."""
        if online:
            await self._upsert(locker_id, online=True, last_seen_at=at)
        else:
            await self._upsert(locker_id, online=False, booted_at=None)

    async def event_mark(self, locker_id: str) -> int | None:
        """The highest journaled event number processed; None for a locker never seen."""
        found = await self._conn.execute(select(t.c.event_seq).where(t.c.locker_id == locker_id))
        value = found.scalar_one_or_none()
        return None if value is None else int(value)

    async def advance_event_mark(self, locker_id: str, event_seq: int) -> bool:
        """Move the mark from event_seq - 1 to event_seq; False if it was elsewhere.

        Conditional, so two instances handling one event cannot both apply it.
        """
        result = await self._conn.execute(
            update(t)
            .where(t.c.locker_id == locker_id, t.c.event_seq == event_seq - 1)
            .values(event_seq=event_seq)
        )
        return bool(result.rowcount)

    async def set_event_mark(self, locker_id: str, event_seq: int, *, only_forward: bool) -> bool:
        """Put the mark at event_seq (lost events, or a locker that lost its journal)."""
        condition = t.c.locker_id == locker_id
        if only_forward:
            condition = condition & (t.c.event_seq < event_seq)
        result = await self._conn.execute(update(t).where(condition).values(event_seq=event_seq))
        return bool(result.rowcount)

    async def key_set_version(self, locker_id: str) -> int | None:
        """The key-set version the locker last reported or confirmed; None if it holds none."""
        found = await self._conn.execute(
            select(t.c.key_set_version).where(t.c.locker_id == locker_id)
        )
        value = found.scalar_one_or_none()
        return None if value is None else int(value)

    async def set_key_set_version(self, locker_id: str, version: int | None) -> None:
        """What the locker holds now: reported at Boot (may be older), or confirmed after a push."""
        await self._conn.execute(
            update(t).where(t.c.locker_id == locker_id).values(key_set_version=version)
        )

    async def key_set_behind(self, version: int) -> list[str]:
        """Booted lockers holding no key set or one older than `version`, by id."""
        stmt = (
            select(t.c.locker_id)
            .where(
                t.c.booted_at.is_not(None),
                t.c.key_set_version.is_(None) | (t.c.key_set_version < version),
            )
            .order_by(t.c.locker_id)
        )
        return [str(row) for row in (await self._conn.execute(stmt)).scalars()]

    async def seen(self, locker_id: str, at: datetime) -> None:
        await self._conn.execute(
            update(t).where(t.c.locker_id == locker_id).values(last_seen_at=at)
        )
