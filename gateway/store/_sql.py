"""Small SQL helpers shared by the repositories; the only place that knows dialect insert syntax."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


async def insert_if_absent(conn: AsyncConnection, table: Table, values: Mapping[str, Any]) -> bool:
    """INSERT unless a unique key is taken; True if the row was written.

    `ON CONFLICT DO NOTHING` instead of catching IntegrityError: on PostgreSQL a failed
    statement aborts the whole transaction, and the caller usually wants to carry on (read the
    winner, report a replay). It is also race-free: a concurrent inserter of the same key
    waits for the first to commit and then writes nothing.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = postgresql.insert(table).values(dict(values)).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).values(dict(values)).on_conflict_do_nothing()
    else:  # pragma: no cover - engine.normalise_url admits only these two
        raise NotImplementedError(dialect)
    result = await conn.execute(stmt)
    return result.rowcount == 1


class Repository:
    """Base of the repositories: one connection inside one open transaction, and a clock."""

    def __init__(self, conn: AsyncConnection, *, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    @property
    def _postgres(self) -> bool:
        return self._conn.dialect.name == "postgresql"
