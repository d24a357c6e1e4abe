"""Fixtures shared by the connector tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.store import CarrierRecord, Store


@pytest.fixture
async def db(database_url: str) -> str:
    """A migrated database (SQLite or PostgreSQL) with carrier acme, for the CLI to work on."""
    async with Store.connect(database_url) as store:
        await store.migrate()
        async with store.transaction() as tx:
            await tx.carriers.add(CarrierRecord("acme", "ACME", {"keys": []}, datetime.now(UTC)))
    return database_url
