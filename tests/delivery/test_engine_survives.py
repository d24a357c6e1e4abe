"""One unreadable outbox row is logged each pass; the engine (and so the gateway) keeps going.

The engine's loop runs in the gateway's TaskGroup: an exception that escaped it would cancel
the whole gateway (HTTP and every locker), and a restart would meet the same row again.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy import text

from gateway.delivery.routes import TargetKind
from gateway.store import Store
from tests.delivery.engine_support import Book, enqueue, make_engine, running


async def test_an_unreadable_row_is_logged_and_the_engine_keeps_polling(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    await enqueue(sqlite_store, "c1", "P-1", 1, kind=TargetKind.CONNECTOR)
    async with sqlite_store.engine.begin() as conn:
        # A target kind no version of the gateway knows (a bad manual edit, a newer schema).
        await conn.execute(text("UPDATE outbox SET target_kind = 'carrier-pigeon'"))
    caplog.set_level(logging.ERROR, logger="gateway.delivery.engine")
    async with running(make_engine(sqlite_store, Book(), poll_interval_s=0.02)) as engine:
        await asyncio.sleep(0.3)  # several polls over the bad row
        loop = [t for t in asyncio.all_tasks() if t.get_name() == "test-delivery-engine"]
        assert loop, "the engine's loop is gone"
        assert not loop[0].done()
        assert engine is not None
    failures = [r for r in caplog.records if "could not claim" in r.getMessage()]
    assert failures, "the failure was not logged"
