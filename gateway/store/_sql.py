"""Small SQL helpers shared by the repositories; the only place that knows dialect insert syntax."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, bindparam
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
    stmt = _INSERTS_IF_ABSENT.get((table, dialect))
    if stmt is None:
        stmt = _INSERTS_IF_ABSENT[(table, dialect)] = _insert_if_absent(table, dialect)
    # The values go as parameters of one prebuilt statement: building `.values(...)` anew
    # and computing its cache key cost ~200 Python calls per insert (JTI, inbox, event and
    # idempotency rows are inserted on every request and door event); SQLAlchemy compiles
    # the statement once per set of columns, so the rows' columns still decide what is sent.
    result = await conn.execute(stmt, dict(values))
    return result.rowcount == 1


# One `INSERT ... ON CONFLICT DO NOTHING` per table and dialect, built on first use.
_INSERTS_IF_ABSENT: dict[tuple[Table, str], Any] = {}


async def insert_all_if_absent(
    conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]]
) -> int:
    """`insert_if_absent` for several rows (of the same columns) in one statement, one round
    trip; returns how many were written.

    One multi-row `INSERT ... VALUES (...), (...) ON CONFLICT DO NOTHING`, prebuilt per table,
    dialect, row count and columns, its values as parameters `r<row>_<column>`: an
    executemany's rowcount is not reliable on asyncpg, and SQLAlchemy's own multi-row
    rewriting of an executemany ("insertmanyvalues") costs as much again per call.
    """
    columns = tuple(rows[0])
    key = (table, conn.dialect.name, len(rows), columns)
    stmt = _INSERTS_ALL_IF_ABSENT.get(key)
    if stmt is None:
        stmt = _INSERTS_ALL_IF_ABSENT[key] = _insert_all_if_absent(*key)
    params = {f"r{n}_{column}": row[column] for n, row in enumerate(rows) for column in columns}
    result = await conn.execute(stmt, params)
    return result.rowcount


_INSERTS_ALL_IF_ABSENT: dict[tuple[Table, str, int, tuple[str, ...]], Any] = {}


def _insert_all_if_absent(table: Table, dialect: str, count: int, columns: tuple[str, ...]) -> Any:
    values = [
        {column: bindparam(f"r{n}_{column}", type_=table.c[column].type) for column in columns}
        for n in range(count)
    ]
    return _insert_if_absent(table, dialect).values(values)


def _insert_if_absent(table: Table, dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise NotImplementedError(dialect)  # pragma: no cover - normalise_url admits only these


class Repository:
    """Base of the repositories: one connection inside one open transaction, and a clock."""

    def __init__(self, conn: AsyncConnection, *, clock: Clock) -> None:
        self._conn = conn
        self._clock = clock

    @property
    def _postgres(self) -> bool:
        return self._conn.dialect.name == "postgresql"
