"""The migrations build exactly tables.metadata, on both engines, and can be re-run safely."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
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

    assert "add_column" in found
    assert "colour" in found
    assert "modify_type" in found
    assert "'carriers', 'name'" in found


async def test_downgrade_to_base_then_upgrade_again(store: Store) -> None:
    async with store.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "base"))
    assert await table_names(store) == {"alembic_version"}

    await store.migrate()

    assert await table_names(store) == {"alembic_version", *metadata.tables}
    assert await drift(store) == []


MIGRATE = """
import asyncio, sys
from gateway.store import Store

async def migrate(url):
    async with Store.connect(url) as store:
        await store.migrate()

async def main():
    await asyncio.gather(*(migrate(url) for url in sys.argv[1:]))

asyncio.run(main())
"""


async def run_python(script: str, *args: str, timeout_s: float = 60) -> tuple[int, str]:
    """Run `script` in a fresh interpreter: a deadlock becomes a failure, not a hung suite."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, *args, stderr=asyncio.subprocess.PIPE
    )
    try:
        async with asyncio.timeout(timeout_s):
            _, stderr = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, f"still running after {timeout_s}s: deadlocked?"
    return process.returncode or 0, stderr.decode()


async def test_instances_migrating_at_once_do_not_collide(store: Store, database_url: str) -> None:
    """Gateway processes started together all run `migrate()`; exactly one does the work."""
    async with store.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "base"))

    outcomes = await asyncio.gather(*(run_python(MIGRATE, database_url) for _ in range(3)))

    assert outcomes == [(0, "")] * 3
    assert await drift(store) == []


async def test_stores_in_one_process_migrate_at_once(tmp_path: Path) -> None:
    """Alembic's proxies are global: concurrent upgrades in one loop must not interleave."""
    urls = [f"sqlite:///{tmp_path / f'db{i}.sqlite'}" for i in range(4)]

    assert await run_python(MIGRATE, *urls) == (0, "")

    for url in urls:
        async with Store.connect(url) as migrated:
            assert await drift(migrated) == []


async def test_migrate_is_idempotent(store: Store) -> None:
    await store.migrate()
    await store.migrate()
    assert await drift(store) == []
