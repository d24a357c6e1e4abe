"""Locker events the gateway could not apply: parked, listed, and flagged for a retry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, delete, func, select, true, update

from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import parked_events as t


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    id: int
    locker_id: str
    event_id: str
    event_seq: int | None
    type: str
    event: dict[str, Any]
    error: str
    attempts: int
    parked_at: datetime
    retry_requested_at: datetime | None = None
    last_retry_at: datetime | None = None


class ParkedEventRepository(Repository):
    async def park(
        self,
        *,
        locker_id: str,
        event_id: str,
        event_seq: int | None,
        type: str,
        event: dict[str, Any],
        error: str,
        attempts: int,
    ) -> bool:
        """Keep the event; False if this event is parked already (another instance did)."""
        values = {
            "locker_id": locker_id,
            "event_id": event_id,
            "event_seq": event_seq,
            "type": type,
            "event": event,
            "error": error,
            "attempts": attempts,
            "parked_at": self._clock(),
        }
        return await insert_if_absent(self._conn, t, values)

    async def page(
        self, *, locker_id: str | None = None, after_id: int | None = None, limit: int = 100
    ) -> list[ParkedEvent]:
        """Parked events, oldest first."""
        stmt = select(t).order_by(t.c.id).limit(limit)
        if locker_id is not None:
            stmt = stmt.where(t.c.locker_id == locker_id)
        if after_id is not None:
            stmt = stmt.where(t.c.id > after_id)
        return [_parked(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def get(self, parked_id: int) -> ParkedEvent | None:
        row = (await self._conn.execute(select(t).where(t.c.id == parked_id))).mappings().first()
        return None if row is None else _parked(row)

    async def request_retry(
        self, ids: list[int] | None = None, *, locker_id: str | None = None
    ) -> list[int]:
        """Flag events for the gateway's sweep: `ids`, or all (of `locker_id`); the ids flagged."""
        condition: ColumnElement[bool] = true()
        if ids is not None:
            condition = t.c.id.in_(ids)
        if locker_id is not None:
            condition = condition & (t.c.locker_id == locker_id)
        flagged = await self._conn.execute(
            update(t).where(condition).values(retry_requested_at=self._clock()).returning(t.c.id)
        )
        return sorted(int(i) for i in flagged.scalars())

    async def flagged(self, limit: int = 100) -> list[ParkedEvent]:
        """Events an operator asked to retry, oldest request first."""
        stmt = (
            select(t)
            .where(t.c.retry_requested_at.is_not(None))
            .order_by(t.c.retry_requested_at, t.c.id)
            .limit(limit)
        )
        return [_parked(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def take(self, parked_id: int) -> bool:
        """Remove the event to apply it in this transaction; False if another instance did."""
        result = await self._conn.execute(delete(t).where(t.c.id == parked_id))
        return bool(result.rowcount)

    async def failed_again(self, parked_id: int, error: str) -> None:
        """A retry failed: the event stays parked, unflagged, with the new error counted."""
        await self._conn.execute(
            update(t)
            .where(t.c.id == parked_id)
            .values(
                error=error,
                attempts=t.c.attempts + 1,
                retry_requested_at=None,
                last_retry_at=self._clock(),
            )
        )

    async def count(self) -> int:
        found = await self._conn.execute(select(func.count()).select_from(t))
        return int(found.scalar_one())


def _parked(row: RowMapping) -> ParkedEvent:
    return ParkedEvent(
        id=int(row["id"]),
        locker_id=row["locker_id"],
        event_id=row["event_id"],
        event_seq=None if row["event_seq"] is None else int(row["event_seq"]),
        type=row["type"],
        event=row["event"],
        error=row["error"],
        attempts=int(row["attempts"]),
        parked_at=row["parked_at"],
        retry_requested_at=row["retry_requested_at"],
        last_retry_at=row["last_retry_at"],
    )
