"""Keypad attempt counters, one row per locker, locked while a code entry is decided."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import RowMapping, select, update

from gateway.domain.keypad import KeypadCounter, LockoutReason
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import keypad_attempts as t


class KeypadRepository(Repository):
    async def claim(self, locker_id: str) -> KeypadCounter:
        """The keypad's counter, locked until commit, so that code entries at one locker are
        decided one after the other whichever instance receives them (SQLite: the transaction
        holds the write lock anyway)."""
        await insert_if_absent(
            self._conn,
            t,
            {
                "locker_id": locker_id,
                "failures": 0,
                "lockouts": 0,
                "day_failures": 0,
                "updated_at": self._clock(),
            },
        )
        stmt = select(t).where(t.c.locker_id == locker_id)
        if self._postgres:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).mappings().one()
        return _counter(row)

    async def get(self, locker_id: str) -> KeypadCounter | None:
        row = (
            (await self._conn.execute(select(t).where(t.c.locker_id == locker_id)))
            .mappings()
            .first()
        )
        return None if row is None else _counter(row)

    async def locked(self, now: datetime) -> list[KeypadCounter]:
        """Keypads locked at `now`, for operators (gateway/service/admin_views.py)."""
        stmt = select(t).where(t.c.locked_until > now).order_by(t.c.locker_id)
        return [_counter(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def save(self, counter: KeypadCounter) -> None:
        await self._conn.execute(
            update(t)
            .where(t.c.locker_id == counter.locker_id)
            .values(
                failures=counter.failures,
                window_started_at=counter.window_started_at,
                last_failure_at=counter.last_failure_at,
                lockouts=counter.lockouts,
                locked_until=counter.locked_until,
                day_failures=counter.day_failures,
                day_started_at=counter.day_started_at,
                lock_reason=None if counter.lock_reason is None else counter.lock_reason.value,
                updated_at=self._clock(),
            )
        )

    async def next_event_seq(self, locker_id: str) -> int:
        """The number of the locker's next `locker.keypad_*` event (1, 2, ...); call with the
        row claimed, so two instances never hand out one number twice."""
        await self._conn.execute(
            update(t).where(t.c.locker_id == locker_id).values(event_seq=t.c.event_seq + 1)
        )
        stmt = select(t.c.event_seq).where(t.c.locker_id == locker_id)
        return int((await self._conn.execute(stmt)).scalar_one())


def _counter(row: RowMapping) -> KeypadCounter:
    return KeypadCounter(
        locker_id=row["locker_id"],
        failures=row["failures"],
        window_started_at=row["window_started_at"],
        last_failure_at=row["last_failure_at"],
        lockouts=row["lockouts"],
        locked_until=row["locked_until"],
        day_failures=row["day_failures"],
        day_started_at=row["day_started_at"],
        lock_reason=LockoutReason(row["lock_reason"]) if row["lock_reason"] else None,
    )
