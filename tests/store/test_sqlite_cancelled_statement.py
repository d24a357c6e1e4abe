"""A transaction cancelled in the middle of a statement must not leave SQLite's write lock held.

Found as a CI flake of tests/e2e/test_keypad_limits.py (two gateways on one SQLite file; the
first's BEGIN IMMEDIATE waited the whole 30 s busy timeout after the second one stopped).
A task cancelled while its SELECT runs in aiosqlite's thread (an instance shutting down, a
timeout) has SQLAlchemy invalidate and close the connection; but the SELECT's statement was
stepped and never reset, and `sqlite3_close_v2` with an unfinalised statement leaves a zombie
connection that keeps its open transaction, and so the write lock, until the cursor object is
garbage-collected: every other connection to the file (another instance, the CLI, this
instance's next connection) waits its busy timeout and fails with SQLITE_BUSY.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.pool import ConnectionPoolEntry

from gateway.store import Store

# A SELECT that produces its first row only when the test lets it, and has a second one.
_TWO_ROWS = "SELECT gate(v) FROM (SELECT 1 AS v UNION ALL SELECT 2)"


class Gate:
    """A SQL function `gate(x)` that holds the statement inside the database thread."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, value: Any) -> Any:
        self.entered.set()
        self.release.wait(10)
        return value


@contextlib.contextmanager
def no_cycle_collection() -> Iterator[None]:
    """The zombie lives as long as the cursor does: no garbage collection may free it early
    (as it happened to, sometimes, in CI: the flake)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
        gc.collect()


async def test_a_statement_cancelled_mid_transaction_leaves_no_write_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cancelled.db'}"
    gate = Gate()
    async with Store.connect(url) as first, Store.connect(url) as second:
        await first.migrate()

        @event.listens_for(second.engine.sync_engine, "connect")
        def _add_gate(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            dbapi_connection.create_function("gate", 1, gate)

        async def read_in_a_transaction() -> None:
            async with second.engine.connect() as conn, conn.begin():  # BEGIN IMMEDIATE
                await conn.execute(text(_TWO_ROWS))

        with no_cycle_collection():
            task = asyncio.create_task(read_in_a_transaction())
            assert await asyncio.to_thread(gate.entered.wait, 10)
            task.cancel()  # e.g. the second instance stops now
            await asyncio.sleep(0.05)
            gate.release.set()  # the row comes out after the task has gone
            with pytest.raises(asyncio.CancelledError):
                await task

            # The other instance writes: at once, not after a 30 s busy timeout.
            try:
                async with asyncio.timeout(5):
                    async with first.transaction() as tx:
                        await tx.audit.count()
            except TimeoutError:
                gc.collect()  # free the zombie so the test ends now rather than in 30 s
                pytest.fail("the cancelled transaction still holds SQLite's write lock")
