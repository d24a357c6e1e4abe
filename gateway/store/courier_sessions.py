"""Courier sessions and the doors their code opened; the code only as a keyed hash."""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import RowMapping, delete, select, update

from gateway.domain.courier import CourierSession, CourierTask, SessionDoor
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import courier_session_doors as d
from gateway.store.tables import courier_sessions as t
from gateway.store.tables import lockers


class CourierSessionRepository(Repository):
    async def add(self, session: CourierSession, code_hash: str) -> bool:
        """Store a new session; False if its code's hash is taken at the locker (pick another)."""
        values = {
            "id": session.id,
            "carrier_id": session.carrier_id,
            "locker_id": session.locker_id,
            "courier_ref": session.courier_ref,
            "code_hash": code_hash,
            "opened_at": session.opened_at,
            "expires_at": session.expires_at,
            "closed_at": None,
        }
        return await insert_if_absent(self._conn, t, values)

    async def get(self, session_id: str, *, for_update: bool = False) -> CourierSession | None:
        stmt = select(t).where(t.c.id == session_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _session(row)

    async def lock_locker(self, locker_id: str) -> None:
        """Serialise the opening of sessions at one locker until the transaction ends
        (PostgreSQL; SQLite transactions are serialised anyway): the "one open session per
        carrier and locker" check and the insert then happen one opener after the other.
        FOR NO KEY UPDATE, so rows referring to the locker can still be written meanwhile."""
        if self._postgres:
            stmt = select(lockers.c.id).where(lockers.c.id == locker_id)
            await self._conn.execute(stmt.with_for_update(key_share=True))

    async def open_at(
        self, carrier_id: str, locker_id: str, now: datetime
    ) -> CourierSession | None:
        """The carrier's session at this locker whose code still works, if any."""
        stmt = select(t).where(
            t.c.carrier_id == carrier_id,
            t.c.locker_id == locker_id,
            t.c.closed_at.is_(None),
            t.c.expires_at > now,
        )
        row = (await self._conn.execute(stmt.limit(1))).mappings().first()
        return None if row is None else _session(row)

    async def by_code(self, locker_id: str, code_hash: str, now: datetime) -> CourierSession | None:
        """The open session of this locker whose code this is, row-locked: two entries of the
        code at once pick their doors one after the other."""
        stmt = (
            select(t)
            .where(
                t.c.locker_id == locker_id,
                t.c.code_hash == code_hash,
                t.c.closed_at.is_(None),
                t.c.expires_at > now,
            )
            .with_for_update()
        )
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _session(row)

    async def lapsed(self, now: datetime, limit: int) -> builtins.list[str]:
        """Sessions never closed whose code stopped working, oldest first (their ids)."""
        stmt = (
            select(t.c.id)
            .where(t.c.closed_at.is_(None), t.c.expires_at <= now)
            .order_by(t.c.expires_at)
            .limit(limit)
        )
        return [str(row[0]) for row in (await self._conn.execute(stmt)).all()]

    async def set_code(self, session_id: str, code_hash: str) -> bool:
        """Replace the session's code; False if the hash is taken at the locker."""
        row = (await self._conn.execute(select(t.c.locker_id).where(t.c.id == session_id))).first()
        if row is None:
            return False
        taken = select(t.c.id).where(t.c.locker_id == row[0], t.c.code_hash == code_hash)
        if (await self._conn.execute(taken)).first() is not None:
            return False
        stmt = update(t).where(t.c.id == session_id).values(code_hash=code_hash)
        await self._conn.execute(stmt)
        return True

    async def close(self, session_id: str, now: datetime) -> None:
        """End the session: its code is forgotten, so it can never open anything again."""
        stmt = update(t).where(t.c.id == session_id, t.c.closed_at.is_(None))
        await self._conn.execute(stmt.values(closed_at=now, code_hash=None))

    async def add_door(self, door: SessionDoor) -> bool:
        """Record that the round opens `door.parcel_uid`'s door; False if it already did."""
        values = {
            "session_id": door.session_id,
            "parcel_uid": door.parcel_uid,
            "task": door.task.value,
            "compartment_code": door.compartment_code,
            "opened_at": door.opened_at,
        }
        return await insert_if_absent(self._conn, d, values)

    async def forget_door(self, session_id: str, parcel_uid: str) -> None:
        """The door did not open after all: the code will offer it again."""
        stmt = delete(d).where(d.c.session_id == session_id, d.c.parcel_uid == parcel_uid)
        await self._conn.execute(stmt)

    async def doors(self, session_id: str) -> builtins.list[SessionDoor]:
        stmt = select(d).where(d.c.session_id == session_id).order_by(d.c.opened_at, d.c.parcel_uid)
        return [_door(row) for row in (await self._conn.execute(stmt)).mappings()]


def _session(row: RowMapping) -> CourierSession:
    return CourierSession(
        id=row["id"],
        carrier_id=row["carrier_id"],
        locker_id=row["locker_id"],
        opened_at=row["opened_at"],
        expires_at=row["expires_at"],
        courier_ref=row["courier_ref"],
        closed_at=row["closed_at"],
    )


def _door(row: RowMapping) -> SessionDoor:
    return SessionDoor(
        session_id=row["session_id"],
        parcel_uid=row["parcel_uid"],
        task=CourierTask(row["task"]),
        compartment_code=row["compartment_code"],
        opened_at=row["opened_at"],
    )
