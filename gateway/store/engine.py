"""Async engines for SQLite (embedded default) and PostgreSQL, tuned for safe concurrent writes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from gateway.store.sqlite_connection import RollbackOnClose
from gateway.store.sqlite_driver import AdaptedSQLite, ThreadedDBAPI

SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"
_DRIVERS = {"sqlite": SQLITE_DRIVER, "postgresql": POSTGRES_DRIVER, "postgres": POSTGRES_DRIVER}

# How long a SQLite writer waits for the file lock before giving up (then: Unavailable).
SQLITE_BUSY_TIMEOUT_MS = 30_000

log = logging.getLogger(__name__)


def normalise_url(url: str | URL) -> URL:
    """Map `sqlite://` and `postgresql://` (any driver) to the async drivers we ship."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in _DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use sqlite:/// or postgresql://")
    parsed = parsed.set(drivername=_DRIVERS[backend])
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        # Every pooled connection would get its own empty database: nothing would be durable
        # and concurrent transactions would not see each other.
        raise ValueError("an in-memory SQLite database cannot be shared; give a file path")
    return parsed


def create_engine(url: str | URL, *, echo: bool = False, **kwargs: Any) -> AsyncEngine:
    """An AsyncEngine for `url`; extra keyword arguments go to SQLAlchemy (pool sizes...)."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        # One connection: every transaction takes the write lock up front (BEGIN IMMEDIATE,
        # below), so a second connection of this process could only sleep in SQLite's busy
        # handler, which polls with growing naps (1..100 ms) and leaves the lock idle between
        # them. Waiting in the pool's queue instead hands the connection over at once, in
        # order, and keeps one aiosqlite thread warm. Other processes still queue on the
        # busy timeout.
        kwargs.setdefault("pool_size", 1)
        kwargs.setdefault("max_overflow", 0)
        # Closing a connection releases its write lock even if a cancelled statement is
        # still pending (see sqlite_connection.py).
        kwargs["connect_args"] = {"factory": RollbackOnClose, **kwargs.get("connect_args", {})}
        # aiosqlite's dialect with our DBAPI: one trip to the connection's thread per
        # statement instead of 3-4 (see sqlite_driver.py).
        kwargs.setdefault("module", ThreadedDBAPI())
        engine = create_async_engine(parsed, echo=echo, **kwargs)
        _tune_sqlite(engine)
        return engine
    # A server restart leaves dead sockets in the pool; test them before use. (With asyncpg
    # the test is three round trips per checkout; reservations/s showed no difference without
    # it on a loaded 2-core host, where the gateway's CPU is the limit, so it stays.)
    # At most 15 connections, as SQLAlchemy's default (5 + 10 overflow), but 10 of them kept:
    # one busy instance holds ~7, and with 5 kept every transaction beyond the fifth opened a
    # connection and closed it on return (2.3 sessions per lifecycle, ~6 % of the gateway's
    # samples; keeping 15 cut its CPU per lifecycle by 20-30 % in bench/scale_out.py, session 7).
    # The ceiling stays 15 so that several instances and the tests fit max_connections (100).
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 5)
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(parsed, echo=echo, **kwargs)
    _durable_postgres(engine)
    return engine


_INSIST_DURABLE = (
    "SELECT current_setting('fsync'), CASE WHEN current_setting('synchronous_commit') = 'off'"
    " THEN set_config('synchronous_commit', 'on', false) END"
)


def _durable_postgres(engine: AsyncEngine) -> None:
    """Every commit of the gateway is durable before it is answered, whatever the server's
    default: a session found with `synchronous_commit = off` is set to `on`.

    With `off`, PostgreSQL answers COMMIT before the commit's WAL is written, and a crash
    forgets the last few hundred milliseconds of answered commits. The gateway acts on an
    answered commit: it answers 201 to a booking, acknowledges a locker's door event, hands
    out a code; after such a crash a retried booking was booked again in another compartment
    (a second, different answer for one Idempotency-Key) and a deposited parcel fell back to
    `reserved` (found by the long chaos run; tests/chaos/test_crash_durability.py). A stronger
    setting (`remote_write`, `remote_apply`) is kept. The same reason sets SQLite's
    `synchronous=FULL` (below). A server with `fsync = off` cannot be made durable from a
    session: that gets a warning, once per engine.
    """
    warned: list[bool] = []

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        async def insist(conn: Any) -> None:
            # One round trip per new connection: read fsync, and turn synchronous_commit on
            # (for the session, as SET does) only where it is off.
            fsync = await conn.fetchval(_INSIST_DURABLE)
            if not warned and fsync == "off":
                warned.append(True)
                log.warning(
                    "PostgreSQL runs with fsync = off: an operating-system crash or power loss "
                    "can lose or corrupt committed parcels, door outcomes and audit entries"
                )

        dbapi_connection.run_async(insist)


def _tune_sqlite(engine: AsyncEngine) -> None:
    """WAL, busy timeout, foreign keys, and BEGIN IMMEDIATE for every transaction.

    The sqlite3 module opens transactions lazily with a deferred BEGIN, so two transactions can
    both read and then fail with SQLITE_BUSY when they upgrade to write; no busy timeout helps
    with that. We take over transaction control (SQLAlchemy's documented recipe): the driver
    never emits BEGIN itself, and we begin IMMEDIATE, which takes the write lock up front, so
    writers queue on the busy timeout instead. It also makes SAVEPOINT and DDL transactional.
    The BEGIN IMMEDIATE goes to the connection's thread with the transaction's first statement,
    in one trip (sqlite_driver.py); one without statements takes the lock at its commit.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # With WAL, NORMAL may lose the last commits on power loss (it never corrupts);
            # FULL syncs the log on every commit, which a parcel handover deserves.
            cursor.execute("PRAGMA synchronous=FULL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        dbapi_connection = conn.connection.dbapi_connection
        if isinstance(dbapi_connection, AdaptedSQLite):
            dbapi_connection.begin_immediate()
        else:  # an engine given another DBAPI (`module=`)
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def ensure_sqlite_folder(url: str) -> None:
    """Create the folder of a SQLite database file, so a fresh checkout runs as it is."""
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
