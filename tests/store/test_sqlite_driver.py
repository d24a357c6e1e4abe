"""The SQLite driver's trips to its thread (gateway/store/sqlite_driver.py), and the semantics
it must keep: BEGIN IMMEDIATE (with the first statement), busy waits, synchronous=FULL.

Each trip is a round trip between the event loop and the connection's thread; with
aiosqlite's adapter a statement took 3-4 of them, BEGIN and the pool's reset one each.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from gateway.store import CarrierRecord, Store
from gateway.store.sqlite_driver import ThreadedSQLite
from tests.store.builders import T0


async def _trips(store: Store) -> int:
    """Jobs sent so far by the pool's one connection (opened by then)."""
    async with store.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, ThreadedSQLite)
        return driver.trips


async def test_a_transaction_costs_one_trip_per_statement_and_one_for_the_commit(
    sqlite_store: Store,
) -> None:
    async with sqlite_store.transaction() as uow:
        await uow.carriers.add(CarrierRecord("acme", "ACME", {"keys": []}, T0))
    before = await _trips(sqlite_store)
    async with sqlite_store.transaction() as uow:
        assert await uow.carriers.get("acme") is not None  # with BEGIN IMMEDIATE, one trip
        await uow.carriers.set_jwks("acme", {"keys": [1]})
        assert await uow.carriers.get("acme") is not None
    # Three statements and the commit; nothing for BEGIN, nothing for the pool's reset on
    # return (no transaction open by then), nothing for _trips' own checkout.
    assert await _trips(sqlite_store) - before == 4


async def test_rows_and_counts_come_back_whole(sqlite_store: Store) -> None:
    async with sqlite_store.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        inserted = await conn.execute(
            text("INSERT INTO t (v) VALUES (:v)"), [{"v": "a"}, {"v": "b"}, {"v": "c"}]
        )
        assert inserted.rowcount == 3
        returned = await conn.execute(text("INSERT INTO t (v) VALUES ('d') RETURNING id, v"))
        assert returned.all() == [(4, "d")]
        updated = await conn.execute(text("UPDATE t SET v = 'x' WHERE id > 1"))
        assert updated.rowcount == 3
        rows = await conn.execute(text("SELECT id, v FROM t ORDER BY id"))
        assert rows.keys() == ["id", "v"]
        assert rows.all() == [(1, "a"), (2, "x"), (3, "x"), (4, "x")]


async def test_the_write_lock_is_taken_with_the_first_statement_and_waited_for(
    tmp_path: Path,
) -> None:
    # BEGIN IMMEDIATE travels with the first statement: another writer holding the lock
    # makes that statement wait (the busy handler), and nothing is written before it ends.
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    async with Store.connect(url) as store:
        await store.migrate()
        holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")

        async def add() -> None:
            async with store.transaction() as uow:
                await uow.carriers.add(CarrierRecord("acme", "ACME", {"keys": []}, T0))

        task = asyncio.create_task(add())
        await asyncio.sleep(0.3)
        assert not task.done()  # waiting for the lock, not failed, not written around it
        holder.execute("ROLLBACK")
        await asyncio.wait_for(task, 10)
        holder.close()
        async with store.transaction() as uow:
            assert await uow.carriers.get("acme") is not None


async def test_a_transaction_without_statements_still_waits_for_the_write_lock(
    tmp_path: Path,
) -> None:
    # As with BEGIN IMMEDIATE at the start: callers that pace themselves on the database
    # (the locker lanes behind a locked file) keep doing so.
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    async with Store.connect(url) as store:
        await store.migrate()
        holder = sqlite3.connect(tmp_path / "empty.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")

        async def nothing() -> None:
            async with store.transaction():
                pass

        task = asyncio.create_task(nothing())
        await asyncio.sleep(0.3)
        assert not task.done()
        holder.execute("ROLLBACK")
        await asyncio.wait_for(task, 10)
        holder.close()


async def test_a_failed_statement_rolls_its_transaction_back(sqlite_store: Store) -> None:
    async with sqlite_store.transaction() as uow:
        await uow.carriers.add(CarrierRecord("acme", "ACME", {"keys": []}, T0))

    async def change_then_fail() -> None:
        async with sqlite_store.engine.begin() as conn:
            await conn.execute(text("UPDATE carriers SET name = 'changed'"))
            await conn.execute(text("INSERT INTO carriers (id) VALUES ('acme')"))

    with pytest.raises(IntegrityError):
        await change_then_fail()
    async with sqlite_store.transaction() as uow:
        record = await uow.carriers.get("acme")
    assert record is not None
    assert record.name == "ACME"
