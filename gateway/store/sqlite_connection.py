"""The sqlite3 connection class of our engines: one that ends its transaction before it closes.

Why: a task cancelled while its statement runs in aiosqlite's thread (an instance shutting
down, a timeout around database work) has SQLAlchemy invalidate and close the connection, but
that statement was stepped and never reset. `sqlite3_close_v2` with an unfinalised statement
does not close: it leaves a "zombie" connection that keeps its open transaction, and with
BEGIN IMMEDIATE the file's write lock, until the cursor object is garbage-collected, which
can take minutes. Every other connection to the file (another gateway instance, the CLI, this
instance's next connection) meanwhile waits its busy timeout and fails with SQLITE_BUSY.
A ROLLBACK ends the transaction whatever statements are pending (they are aborted), so the
lock goes with the close, as it should. Found as a CI flake of two instances on one file
(tests/store/test_sqlite_cancelled_statement.py).
"""

from __future__ import annotations

import contextlib
import sqlite3


class RollbackOnClose(sqlite3.Connection):
    """`sqlite3.connect(..., factory=RollbackOnClose)`: close() rolls back an open transaction
    first, so that closing always releases the database's locks."""

    def close(self) -> None:
        # Closing anyway: a failed rollback (the file gone, say) must not keep it open, and
        # a connection closed already (ProgrammingError) has nothing left to end.
        with contextlib.suppress(sqlite3.Error):
            if self.in_transaction:
                self.rollback()
        super().close()
