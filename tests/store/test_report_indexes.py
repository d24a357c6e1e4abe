"""Migration 0022: the console reports' read of recent parcel events, housekeeping's
batched purge of sign-in counters, and an operator's parcel search by uid, parcel id or
reference are index reads on both engines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, inspect, text

from gateway.store import Store

# The console report's read (gateway/console/reads.py: ConsoleReads.report), as SQL.
RECENT_EVENTS = (
    "SELECT parcel_uid, to_state, at FROM parcel_events"
    " WHERE at >= :since AND to_state IN ('ready_for_pickup', 'picked_up')"
    " ORDER BY at, id LIMIT 50001"
)
STALE_COUNTERS = (
    "SELECT key FROM login_attempts WHERE updated_at < :since ORDER BY updated_at LIMIT 500"
)


async def indexes(store: Store, table: str) -> dict[str, list[str]]:
    def read(conn: Any) -> dict[str, list[str]]:
        return {i["name"]: i["column_names"] for i in inspect(conn).get_indexes(table)}

    async with store.engine.connect() as conn:
        return await conn.run_sync(read)


async def plan(store: Store, query: str) -> str:
    async with store.engine.connect() as conn:
        if store.engine.dialect.name == "postgresql":
            # Empty tables: PostgreSQL would rightly scan them; asked whether it *can* use one.
            await conn.execute(text("SET enable_seqscan = off"))
            since = datetime(2026, 11, 1, tzinfo=UTC)
            rows = await conn.execute(text("EXPLAIN " + query), {"since": since})
        else:
            rows = await conn.execute(text("EXPLAIN QUERY PLAN " + query), {"since": "2026-11-01"})
        return "\n".join(str(row[-1]) for row in rows)


async def test_the_indexes_exist(store: Store) -> None:
    assert (await indexes(store, "parcel_events"))["ix_parcel_events_at"] == ["at"]
    assert (await indexes(store, "parcels"))["ix_parcels_reference"] == ["reference"]
    assert (await indexes(store, "login_attempts"))["ix_login_attempts_updated_at"] == [
        "updated_at"
    ]


@pytest.mark.parametrize(
    ("query", "index"),
    [(RECENT_EVENTS, "ix_parcel_events_at"), (STALE_COUNTERS, "ix_login_attempts_updated_at")],
)
async def test_the_reads_use_them(store: Store, query: str, index: str) -> None:
    found = await plan(store, query)
    assert index in found, found
    assert "SCAN parcel_events\n" not in found + "\n"


async def test_the_parcel_search_reads_an_index_for_each_identifier(store: Store) -> None:
    """The statement `ParcelRepository.search(identifier=…)` really sends (captured from the
    driver, not a copy of it) is explained: uid, parcel id and reference each by an index,
    so an operator's search never reads the whole parcels table."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append((statement, parameters))

    event.listen(store.engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with store.transaction() as tx:
            await tx.parcels.search(identifier="REF-0042", limit=100)
    finally:
        event.remove(store.engine.sync_engine, "before_cursor_execute", capture)
    ((statement, parameters),) = [(s, p) for s, p in sent if "FROM parcels" in s]
    async with store.engine.connect() as conn:
        if store.engine.dialect.name == "postgresql":
            await conn.execute(text("SET enable_seqscan = off"))
            rows = await conn.exec_driver_sql("EXPLAIN " + statement, parameters)
            found = "\n".join(str(row[0]) for row in rows)
            # A bitmap OR of the three indexes; a scan of the primary key in seq order,
            # filtering every row, would also answer with seqscan off: not that.
            assert "parcels_pkey" not in found, found
        else:
            rows = await conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            found = "\n".join(str(row[-1]) for row in rows)
            assert "MULTI-INDEX OR" in found, found
            assert "SCAN parcels" not in found, found
    for index in ("ix_parcels_reference", "ix_parcels_parcel_id"):
        assert index in found, found
    assert "uid" in found, found  # the unique constraint's index
