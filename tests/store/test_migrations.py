"""The migrations build exactly tables.metadata, on both engines, and can be re-run safely."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect
from sqlalchemy.engine import Connection

from gateway.store import Store
from gateway.store.migrations import alembic_config
from gateway.store.tables import metadata


async def drift(store: Store, target: MetaData = metadata) -> list[Any]:
    def compare(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, target))

    async with store.engine.connect() as conn:
        return await conn.run_sync(compare)


async def table_names(store: Store) -> set[str]:
    async with store.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_migrated_database_matches_the_tables(store: Store) -> None:
    assert await drift(store) == []


async def test_the_drift_check_sees_a_difference(store: Store) -> None:
    # Proof that the test above can fail: a model that differs from the migrations.
    changed = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["parcels"].append_column(Column("colour", Integer))
    changed.tables["carriers"].c.name.type = Integer()

    found = repr(await drift(store, changed))

    assert "add_column" in found and "colour" in found
    assert "modify_type" in found and "'carriers', 'name'" in found


async def test_downgrade_to_base_then_upgrade_again(store: Store) -> None:
    async with store.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "base"))
    assert await table_names(store) == {"alembic_version"}

    await store.migrate()

    assert await table_names(store) == {"alembic_version", *metadata.tables}
    assert await drift(store) == []


async def test_instances_migrating_at_once_do_not_collide(store: Store, database_url: str) -> None:
    async with store.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "base"))

    async def migrate() -> None:
        async with Store.connect(database_url) as other:
            await other.migrate()

    await asyncio.gather(*(migrate() for _ in range(4)))

    assert await drift(store) == []


async def test_migrate_is_idempotent(store: Store) -> None:
    await store.migrate()
    await store.migrate()
    assert await drift(store) == []
