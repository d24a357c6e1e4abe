"""SQLite for the event loop: one trip to the connection's thread per statement.

sqlite3 blocks (a commit syncs the log, `synchronous=FULL`; BEGIN IMMEDIATE may wait out the
busy timeout), so every call runs on a thread of the connection's own. SQLAlchemy's aiosqlite
adapter sends that thread 3-4 jobs per statement (make a cursor, execute, fetch the rows,
close the cursor), one more for BEGIN IMMEDIATE and one for the pool's rollback of every
connection it takes back; each job is a round trip between the loop and the thread (a queue
put, a thread wake-up, `call_soon_threadsafe`, a loop wake-up), and at ~10 statements per
remote open those trips were most of its SQL time (py-spy, bench/remote_open.py).

This driver keeps SQLAlchemy's aiosqlite dialect and swaps its DBAPI (`create_engine(module=)`):
a statement runs whole in one job (cursor, execute, every row, close; the rows are buffered,
as aiosqlite's adapter buffers them too), the transaction's BEGIN IMMEDIATE rides in the job
of its first statement, and a rollback or commit of a connection with no transaction open
(the pool's reset on return) is answered without a trip. Everything else is sqlite3's own:
the connection class (RollbackOnClose), errors, busy handler, the commit's sync on the thread.
A transaction as a whole cannot be one job: its statements depend on Python work between them.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NoReturn, TypeVar, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.engine.interfaces import AdaptedConnection
from sqlalchemy.util.concurrency import await_, in_greenlet

T = TypeVar("T")
# A job and the future its result goes to (None: nobody waits for it).
_Job = tuple["asyncio.Future[Any] | None", Callable[[], Any]]


class _Thread:
    """The connection's thread: runs jobs in order, hands each result back to its loop."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="sqlite", daemon=True)
        self._thread.start()

    def run(self, job: Callable[[], T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._jobs.put((future, job))
        return future

    def post(self, job: Callable[[], object]) -> None:
        """Run `job` in turn, without waiting for it (usable outside a running loop)."""
        self._jobs.put((None, job))

    def stop(self) -> None:
        """No more jobs: the thread ends after those queued."""
        self._jobs.put(None)

    def _serve(self) -> None:
        while (item := self._jobs.get()) is not None:
            future, job = item
            try:
                result = job()
            except BaseException as err:  # whatever it is, the awaiting task gets it
                _hand_back(future, _fail, err)
            else:
                _hand_back(future, _resolve, result)


def _hand_back(future: asyncio.Future[Any] | None, how: Callable[..., None], value: Any) -> None:
    if future is None:
        return
    # A loop that has closed meanwhile (a test's, a stopped instance's) has nobody waiting.
    with contextlib.suppress(RuntimeError):
        future.get_loop().call_soon_threadsafe(how, future, value)


def _resolve(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():  # the awaiting task may have been cancelled
        future.set_result(result)


def _fail(future: asyncio.Future[Any], err: BaseException) -> None:
    if not future.done():
        future.set_exception(err)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What a statement left: its rows (all of them) and its cursor's attributes."""

    description: Any
    rowcount: int
    lastrowid: int | None
    rows: list[Any]
    in_transaction: bool


def _statement(
    conn: sqlite3.Connection, *, begin: bool, operation: str, parameters: Any, many: bool
) -> _Outcome:
    """One statement, whole, on the connection's thread (preceded by BEGIN IMMEDIATE)."""
    if begin:
        conn.execute("BEGIN IMMEDIATE")
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        # Stepped to its end and reset by close(): no statement is left pending between jobs.
        rows = cursor.fetchall() if cursor.description else []
        return _Outcome(
            cursor.description, cursor.rowcount, cursor.lastrowid, rows, conn.in_transaction
        )
    finally:
        cursor.close()


def _isolation_level(conn: sqlite3.Connection) -> str | None:
    return conn.isolation_level


def _begin_and_commit(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.commit()


class ThreadedSQLite:
    """A sqlite3 connection and its thread: the driver connection of our SQLite engines."""

    def __init__(self, thread: _Thread, conn: sqlite3.Connection) -> None:
        self._thread = thread
        self.conn = conn  # touch only in jobs (on the thread)
        self.trips = 0  # jobs sent to the thread: what a statement costs (tests, benches)

    @classmethod
    async def open(cls, args: Sequence[Any], kwargs: dict[str, Any]) -> ThreadedSQLite:
        thread = _Thread()
        # Used from its thread only; sqlite3's check is for that one thread, which this
        # connection is not created on.
        kwargs = {**kwargs, "check_same_thread": False}
        try:
            conn = await thread.run(lambda: sqlite3.connect(*args, **kwargs))
        except BaseException:
            thread.stop()
            raise
        return cls(thread, conn)

    def run(self, job: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        self.trips += 1
        conn = self.conn
        return self._thread.run(lambda: job(conn))

    async def close(self) -> None:
        try:
            await self.run(sqlite3.Connection.close)  # RollbackOnClose: the lock goes too
        finally:
            self._thread.stop()

    def stop(self) -> None:
        """Close without waiting (the pool's hard terminate, outside a running loop too)."""
        self._thread.post(self.conn.close)
        self._thread.stop()


class BufferedCursor:
    """A DBAPI cursor whose every `execute` is one job; rows are read from the buffer."""

    server_side = False
    arraysize = 1

    def __init__(self, connection: AdaptedSQLite) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: collections.deque[Any] = collections.deque()

    def execute(self, operation: str, parameters: Any = None) -> None:
        self._take(self._connection.statement(operation, parameters, many=False))

    def executemany(self, operation: str, seq_of_parameters: Any) -> None:
        self._take(self._connection.statement(operation, seq_of_parameters, many=True))

    def _take(self, outcome: _Outcome) -> None:
        self.description = outcome.description
        self.rowcount = outcome.rowcount
        self.lastrowid = outcome.lastrowid
        self._rows = collections.deque(outcome.rows)

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def close(self) -> None:
        self._rows.clear()

    async def _async_soft_close(self) -> None:
        """What SQLAlchemy's AsyncConnection awaits after each execute (aiosqlite's adapter
        closes its cursor there, one more trip): the statement has ended already."""

    def setinputsizes(self, *sizes: Any) -> None:
        pass


class AdaptedSQLite(AdaptedConnection):
    """The DBAPI connection SQLAlchemy holds: synchronous calls, each awaited in its greenlet."""

    def __init__(self, dbapi: ThreadedDBAPI, connection: ThreadedSQLite) -> None:
        self.dbapi = dbapi
        self._sqlite = connection
        self._connection = cast(Any, connection)  # what `driver_connection` gives
        self._begin_pending = False
        # Whether a transaction may be open on the thread's side; True whenever unsure (a job
        # still running, one that failed), so that a rollback is skipped only when certain.
        self._maybe_in_transaction = True

    def begin_immediate(self) -> None:
        """Begin (IMMEDIATE: the write lock up front) with the next statement, in its job."""
        self._begin_pending = True

    def _await(self, future: Awaitable[T]) -> T:
        try:
            return await_(future)
        except Exception as error:
            self._handle_exception(error)

    def _handle_exception(self, error: Exception) -> NoReturn:
        raise error

    def statement(self, operation: str, parameters: Any, *, many: bool) -> _Outcome:
        begin, self._begin_pending = self._begin_pending, False
        self._maybe_in_transaction = True
        outcome = self._await(
            self._sqlite.run(
                partial(
                    _statement, begin=begin, operation=operation, parameters=parameters, many=many
                )
            )
        )
        self._maybe_in_transaction = outcome.in_transaction
        return outcome

    def cursor(self, server_side: bool = False) -> BufferedCursor:
        return BufferedCursor(self)

    def execute(self, operation: str, parameters: Any = None) -> BufferedCursor:
        cursor = self.cursor()
        cursor.execute(operation, parameters)
        return cursor

    def commit(self) -> None:
        if self._begin_pending:
            # A transaction without statements still takes and drops the write lock, in one
            # trip: it waits for another writer (or fails busy) as it always did, and callers
            # such as the locker lanes keep pacing behind a locked database.
            self._begin_pending = False
            self._maybe_in_transaction = True
            self._await(self._sqlite.run(_begin_and_commit))
            self._maybe_in_transaction = False
            return
        self._end(sqlite3.Connection.commit)

    def rollback(self) -> None:
        self._begin_pending = False  # never began: nothing was locked, nothing to undo
        self._end(sqlite3.Connection.rollback)

    def _end(self, how: Callable[[sqlite3.Connection], None]) -> None:
        if not self._maybe_in_transaction:
            return  # nothing to end: sqlite3 itself would do nothing either
        self._await(self._sqlite.run(how))
        self._maybe_in_transaction = False

    @property
    def isolation_level(self) -> str | None:
        return self._await(self._sqlite.run(_isolation_level))

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        def apply(conn: sqlite3.Connection) -> None:
            conn.isolation_level = cast(Any, value)

        self._await(self._sqlite.run(apply))

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._await(self._sqlite.run(lambda c: c.create_function(*args, **kwargs)))

    def close(self) -> None:
        self._await(self._sqlite.close())

    def terminate(self) -> None:
        if in_greenlet():
            try:
                self.close()
                return
            except asyncio.CancelledError:
                self._sqlite.stop()
                raise
            except (OSError, sqlite3.Error):
                pass
        self._sqlite.stop()


class ThreadedDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module of our SQLite engines (`create_async_engine(module=ThreadedDBAPI())`):
    aiosqlite's (the same errors and constants), with connections that are `AdaptedSQLite`."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *args: Any, **kwargs: Any) -> AdaptedSQLite:  # type: ignore[override]
        kwargs.pop("async_creator_fn", None)
        return AdaptedSQLite(self, await_(ThreadedSQLite.open(args, kwargs)))
