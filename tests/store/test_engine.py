"""Engine set-up: URL normalisation and the SQLite tuning that makes concurrent writers queue."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from gateway.store import CarrierRecord, Store, normalise_url
from gateway.store.tables import compartments
from tests.store.builders import T0


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("sqlite:///var/lib/openlocker.db", "sqlite+aiosqlite"),
        ("sqlite+aiosqlite:////abs/path.db", "sqlite+aiosqlite"),
        ("sqlite+pysqlite:///x.db", "sqlite+aiosqlite"),
        ("postgresql://u:p@db:5432/olp", "postgresql+asyncpg"),
        ("postgresql+psycopg://u@db/olp", "postgresql+asyncpg"),
        ("postgres://u@db/olp", "postgresql+asyncpg"),
    ],
)
def test_urls_get_the_async_driver(given: str, driver: str) -> None:
    url = normalise_url(given)
    assert url.drivername == driver
    assert url.database == normalise_url(given.replace(given.split(":")[0], driver)).database


@pytest.mark.parametrize("given", ["sqlite://", "sqlite:///:memory:", "mysql://u@db/x"])
def test_unusable_urls_are_refused(given: str) -> None:
    with pytest.raises(ValueError, match=r"memory|unsupported"):
        normalise_url(given)


async def test_sqlite_pragmas(sqlite_store: Store) -> None:
    async with sqlite_store.engine.connect() as conn:
        pragmas = {
            name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "busy_timeout": 30_000,
        "foreign_keys": 1,
        "synchronous": 2,
    }


async def test_sqlite_enforces_foreign_keys(sqlite_store: Store) -> None:
    row = {
        "locker_id": "nowhere",
        "code": "C01",
        "size_class": "S",
        "size_rank": 1,
        "width_mm": 1,
        "height_mm": 1,
        "depth_mm": 1,
        "max_weight_g": 1,
        "state": "available",
        "door": "closed",
        "item_sensor": "unknown",
        "updated_at": T0,
    }
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        async with sqlite_store.engine.begin() as conn:
            await conn.execute(insert(compartments).values(row))


async def test_sqlite_read_modify_write_transactions_queue(sqlite_store: Store) -> None:
    # With SQLite's default deferred BEGIN, two transactions that both read and then write
    # end in SQLITE_BUSY ("database is locked") at once, or lose an update. BEGIN IMMEDIATE
    # makes the second wait for the first, so every increment lands.
    async with sqlite_store.transaction() as uow:
        await uow.carriers.add(CarrierRecord("acme", "ACME", {"keys": []}, T0))

    async def add_key(n: int) -> None:
        async with sqlite_store.transaction() as uow:
            record = await uow.carriers.get("acme")
            assert record is not None
            await asyncio.sleep(0.005)  # let the others start their transactions
            await uow.carriers.set_jwks("acme", {"keys": [*record.jwks["keys"], n]})

    await asyncio.gather(*(add_key(n) for n in range(20)))

    async with sqlite_store.transaction() as uow:
        record = await uow.carriers.get("acme")
    assert record is not None
    assert sorted(record.jwks["keys"]) == list(range(20))
