"""Shared database fixtures: storage tests run on SQLite and on a fresh PostgreSQL database."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from gateway.store import Store
from tests.support.loopback import allow_loopback_targets
from tests.support.requirements import missing

# The receivers in tests listen on 127.0.0.1, which the send-time SSRF check refuses unless
# allowed; this allows it for every Settings built in tests and every gateway process started.
allow_loopback_targets()

# Where to create the per-session database; CI may point this at its own server.
PG_ADMIN_URL = os.environ.get(
    "OPENLOCKER_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PG_CONNECT_TIMEOUT_S = 5


async def _admin_connection() -> Any:
    return await asyncpg.connect(PG_ADMIN_URL, timeout=PG_CONNECT_TIMEOUT_S)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres_database() -> AsyncIterator[str]:
    """URL of a fresh database for this session, migrated to head; dropped at the end.

    Unreachable server: a failure, so the PostgreSQL half of the suite never silently
    disappears; `OPENLOCKER_TEST_SKIP=postgres` skips it instead (tests/support/requirements.py).
    """
    try:
        admin = await _admin_connection()
    except (OSError, TimeoutError, asyncpg.PostgresError) as err:
        missing("postgres", f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {err!r}")
    name = f"openlocker_test_{secrets.token_hex(6)}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        async with Store.connect(url) as store:
            await store.migrate()
        yield url
    finally:
        admin = await _admin_connection()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def _clean_postgres(postgres_database: str) -> str:
    """The session database with every table emptied: much faster than re-migrating."""
    conn = await asyncpg.connect(postgres_database, timeout=PG_CONNECT_TIMEOUT_S)
    try:
        # A test that leaks an open transaction would make TRUNCATE wait forever; fail instead.
        await conn.execute("SET lock_timeout = '10s'")
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
        )
        if rows:
            tables = ", ".join(f'"{row["tablename"]}"' for row in rows)
            await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()
    return postgres_database


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, once per engine: a SQLite file, or the session's PostgreSQL database.

    Both are migrated to head, or will be by the first `Store.migrate()`.
    """
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'openlocker.db'}"
    # Requested lazily so that SQLite-only runs never touch PostgreSQL. This fixture is sync on
    # purpose: pytest-asyncio can only set up the async fixture when no loop is running.
    url: str = request.getfixturevalue("_clean_postgres")
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated Store over `database_url` (so: once per engine)."""
    async with Store.connect(database_url) as opened:
        await opened.migrate()
        yield opened


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated Store over a SQLite file, for tests that are about SQLite only."""
    async with Store.connect(f"sqlite:///{tmp_path / 'sqlite-only.db'}") as opened:
        await opened.migrate()
        yield opened
