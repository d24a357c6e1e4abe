"""A connection pool that stays exhausted past its timeout is the database being unavailable.

SQLAlchemy raises its own `sqlalchemy.exc.TimeoutError` (not the builtin one) when no pooled
connection frees up in `pool_timeout` seconds. It escaped the Store untranslated: the event
pipeline took it for a bug (no retry, the event parked at once) and the delivery engine logged
it with a traceback. It is the database's weather, like SQLITE_BUSY: Unavailable, retried.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import Unavailable
from gateway.store import Store


async def test_no_free_connection_in_time_is_unavailable(database_url: str) -> None:
    async with Store.connect(database_url, pool_size=1, max_overflow=0, pool_timeout=0.2) as store:
        await store.migrate()
        holding = asyncio.Event()
        done = asyncio.Event()

        async def hold() -> None:
            async with store.transaction() as tx:
                await tx.audit.count()
                holding.set()
                await done.wait()

        holder = asyncio.create_task(hold())
        await holding.wait()
        try:
            with pytest.raises(Unavailable, match="no database connection"):
                async with store.transaction() as tx:
                    await tx.audit.count()
        finally:
            done.set()
            await holder
        async with store.transaction() as tx:  # and all is well once it is given back
            assert await tx.audit.count() == 0
