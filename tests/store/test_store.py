"""The Store's contract: transactions commit or roll back, errors are translated, UTC in and out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.pool import AsyncAdaptedQueuePool

from gateway.errors import ConcurrentUpdate, Unavailable
from gateway.store import CarrierRecord, NaiveDatetimeError, Store
from tests.store.builders import T0, parcel


def carrier(carrier_id: str = "acme", created_at: datetime = T0) -> CarrierRecord:
    return CarrierRecord(carrier_id, "ACME", {"keys": []}, created_at)


async def test_dialect_and_ping(store: Store, database_url: str) -> None:
    assert store.dialect == ("sqlite" if database_url.startswith("sqlite") else "postgresql")
    await store.ping()


async def test_a_transaction_commits_when_the_block_ends(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.carriers.add(carrier())
    async with store.transaction() as uow:
        assert await uow.carriers.get("acme") == carrier()


async def test_a_transaction_rolls_back_when_the_block_raises(store: Store) -> None:
    async def add_then_fail() -> None:
        async with store.transaction() as uow:
            await uow.carriers.add(carrier())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await add_then_fail()
    async with store.transaction() as uow:
        assert await uow.carriers.get("acme") is None


async def test_timestamps_come_back_as_aware_utc(store: Store) -> None:
    warsaw_summer = timezone(timedelta(hours=2))
    written = datetime(2025, 7, 1, 14, 30, 15, 123456, tzinfo=warsaw_summer)
    async with store.transaction() as uow:
        await uow.carriers.add(carrier(created_at=written))
    async with store.transaction() as uow:
        read = await uow.carriers.get("acme")
    assert read is not None
    assert read.created_at == written
    assert read.created_at.tzinfo is UTC
    assert read.created_at.hour == 12
    assert read.created_at.microsecond == 123456


async def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(NaiveDatetimeError, match="naive"):
        async with store.transaction() as uow:
            await uow.carriers.add(carrier(created_at=datetime(2025, 1, 1)))
    assert issubclass(NaiveDatetimeError, ValueError)


async def test_an_unreachable_postgresql_is_unavailable() -> None:
    async with Store.connect("postgresql://postgres@127.0.0.1:1/nowhere") as store:
        with pytest.raises(Unavailable):
            await store.ping()
        with pytest.raises(Unavailable):
            async with store.transaction():
                pass


async def test_an_unopenable_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    async with Store.connect(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}") as store:
        with pytest.raises(Unavailable):
            await store.ping()
    # aiosqlite stops the worker thread of a failed open in the background; let it finish
    # while the loop still runs, or it reports "Event loop is closed" into a later test.
    await asyncio.sleep(0.1)


async def test_store_closes_its_pool(database_url: str) -> None:
    store = Store.connect(database_url)
    async with store:
        await store.migrate()
    pool = store.engine.pool
    assert isinstance(pool, AsyncAdaptedQueuePool)
    assert pool.checkedout() == 0


async def test_a_postgresql_deadlock_is_a_concurrent_update(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("SQLite transactions are serialised and cannot deadlock")
    first, second = parcel("P-1"), parcel("P-2")
    async with store.transaction() as uow:
        await uow.parcels.insert(first)
        await uow.parcels.insert(second)
    both_hold_one = asyncio.Barrier(2)

    async def lock_in_order(a: str, b: str) -> str:
        try:
            async with store.transaction() as uow:
                await uow.parcels.get("acme", a, for_update=True)
                await both_hold_one.wait()
                await uow.parcels.get("acme", b, for_update=True)
        except ConcurrentUpdate:
            return "retry"
        return "done"

    # PostgreSQL breaks the cycle after deadlock_timeout (1 s by default) by failing one.
    outcomes = await asyncio.gather(lock_in_order("P-1", "P-2"), lock_in_order("P-2", "P-1"))
    assert sorted(outcomes) == ["done", "retry"]


async def test_a_connection_lost_mid_transaction_is_unavailable(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("an embedded SQLite file has no connection to lose")

    async def kill_other_sessions() -> None:
        async with Store.connect(store.engine.url) as admin, admin.engine.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )

    async def lose_the_connection() -> None:
        async with store.transaction() as uow:
            await uow.carriers.list()
            await kill_other_sessions()
            await uow.carriers.list()

    with pytest.raises(Unavailable):
        await lose_the_connection()
    # The pool throws the dead connection away; the next transaction works.
    async with store.transaction() as uow:
        assert await uow.carriers.list() == []
