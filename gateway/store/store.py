"""The Store: one engine, its migrations, and transactions that hand out repositories."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.errors import ConcurrentUpdate, Unavailable
from gateway.store._sql import Clock, utcnow
from gateway.store.access_codes import AccessCodeRepository
from gateway.store.audit import AuditRepository
from gateway.store.bundles import BundleRepository
from gateway.store.bus_leases import BusLeaseRepository
from gateway.store.carrier_targets import TargetsCache, targets_cache
from gateway.store.carriers import CarrierRepository
from gateway.store.connector_attachments import ConnectorAttachmentRepository
from gateway.store.courier_sessions import CourierSessionRepository
from gateway.store.door_sessions import DoorSessionRepository
from gateway.store.engine import create_engine
from gateway.store.events import EventRepository
from gateway.store.grants import GrantRepository
from gateway.store.hold_policies import HoldPolicyRepository
from gateway.store.holds import HoldRepository
from gateway.store.idempotency import IdempotencyRepository
from gateway.store.inbox import InboxRepository
from gateway.store.jtis import JtiRepository, claim_pending
from gateway.store.keypads import KeypadRepository
from gateway.store.locker_sessions import LockerSessionRepository
from gateway.store.lockers import LockerRepository
from gateway.store.migrations import alembic_config
from gateway.store.network_keys import NetworkKeyRepository
from gateway.store.operators import OperatorRepository
from gateway.store.outbox import OutboxRepository
from gateway.store.outbox_due import NOTIFY as NOTIFY_OUTBOX_DUE
from gateway.store.parcels import ParcelRepository
from gateway.store.parked_events import ParkedEventRepository
from gateway.store.returns import ReturnRepository
from gateway.store.scans import ScanRepository
from gateway.store.secrets import SecretRepository
from gateway.store.types import NaiveDatetimeError
from gateway.store.webhooks import WebhookRepository

# PostgreSQL: serialization_failure, deadlock_detected. The transaction lost a race; retry.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
# SQLite: the file is locked past the busy timeout, unreadable or full. Not a bug of ours.
_SQLITE_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
    "SQLITE_READONLY",
)
# Any constant shared by every gateway instance: the advisory lock that serialises migrations.
_MIGRATION_LOCK_ID = 0x4F4C505F4D494752  # "OLP_MIGR"
# One per event loop, since an asyncio.Lock belongs to the loop it is first used in.
_ALEMBIC_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


class UnitOfWork:
    """One database transaction and the repositories that work inside it."""

    def __init__(self, conn: AsyncConnection, *, clock: Clock) -> None:
        self._conn = conn
        self.carriers = CarrierRepository(conn, clock=clock)
        self.lockers = LockerRepository(conn, clock=clock)
        self.parcels = ParcelRepository(conn, clock=clock)
        self.events = EventRepository(conn, clock=clock)
        self.idempotency = IdempotencyRepository(conn, clock=clock)
        self.jtis = JtiRepository(conn, clock=clock)
        self.sessions = LockerSessionRepository(conn, clock=clock)
        self.doors = DoorSessionRepository(conn, clock=clock)
        self.codes = AccessCodeRepository(conn, clock=clock)
        self.inbox = InboxRepository(conn, clock=clock)
        self.secrets = SecretRepository(conn, clock=clock)
        self.network_keys = NetworkKeyRepository(conn, clock=clock)
        self.grants = GrantRepository(conn, clock=clock)
        self.webhooks = WebhookRepository(conn, clock=clock)
        self.outbox = OutboxRepository(conn, clock=clock)
        self.connector_attachments = ConnectorAttachmentRepository(conn, clock=clock)
        self.audit = AuditRepository(conn, clock=clock)
        self.keypads = KeypadRepository(conn, clock=clock)
        self.bus_leases = BusLeaseRepository(conn, clock=clock)
        self.parked_events = ParkedEventRepository(conn, clock=clock)
        self.operators = OperatorRepository(conn, clock=clock)
        self.hold_policies = HoldPolicyRepository(conn, clock=clock)
        self.holds = HoldRepository(conn, clock=clock)
        self.courier_sessions = CourierSessionRepository(conn, clock=clock)
        self.bundles = BundleRepository(conn, clock=clock)
        self.returns = ReturnRepository(conn, clock=clock)
        self.scans = ScanRepository(conn, clock=clock)  # query on scan (gateway/store/scans.py)

    @property
    def targets_cache(self) -> TargetsCache:
        """The carriers' delivery targets as this engine last read them (carrier_targets.py)."""
        return targets_cache(self._conn.sync_engine)

    @property
    def targets_changed(self) -> bool:
        return self.webhooks.targets_changed or self.connector_attachments.targets_changed

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A part of the transaction undone alone if its block raises (SAVEPOINT); the rest
        of the transaction goes on. For work whose items succeed or fail one by one."""
        nested = await self._conn.begin_nested()
        try:
            yield
        except BaseException:
            if nested.is_active:
                await nested.rollback()
            raise
        await nested.commit()


class Store:
    """Durable storage on SQLite or PostgreSQL; use as `async with Store.connect(url) as s`."""

    def __init__(self, *, engine: AsyncEngine, clock: Clock = utcnow) -> None:
        self._engine = engine
        self._clock = clock
        self._outbox_listener: Callable[[], None] | None = None

    @classmethod
    def connect(
        cls, url: str | URL, *, clock: Clock = utcnow, echo: bool = False, **engine_options: Any
    ) -> Store:
        """A Store for `url`; connections are opened lazily, on first use."""
        return cls(engine=create_engine(url, echo=echo, **engine_options), clock=clock)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._engine.dispose()

    @property
    def dialect(self) -> str:
        """The engine, "sqlite" or "postgresql"."""
        return self._engine.dialect.name

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema to `revision` (Alembic upgrade), safe to run from many instances."""
        # Alembic's `op` and `context` are module-level proxies: two upgrades interleaving in
        # one event loop (two Stores, say) would send one's DDL down the other's connection.
        async with _alembic_lock(), self._connection() as conn:
            if self.dialect == "postgresql":
                # Two instances starting together would otherwise both create the tables.
                # SQLite needs nothing: BEGIN IMMEDIATE already holds the write lock.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            await conn.run_sync(_upgrade, revision)

    async def ping(self) -> None:
        """Raise Unavailable unless the database answers."""
        async with self._connection() as conn:
            await conn.execute(text("SELECT 1"))

    def on_outbox_due(self, listener: Callable[[], None] | None) -> None:
        """Call `listener` after every commit that made outbox rows due (queued, replayed):
        the delivery engine of this process wakes at once instead of at its next poll. On
        PostgreSQL such a commit also notifies every instance's engine (outbox_due.py)."""
        self._outbox_listener = listener

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        # A carrier request's token id rides in its first transaction (see PendingJti).
        pending = claim_pending()
        try:
            async with self._connection() as conn:
                uow = UnitOfWork(conn, clock=self._clock)
                if pending is not None:
                    await pending.record(uow.jtis)
                yield uow
                # The audit entries go in last, just before the commit (see AuditRepository).
                await uow.audit.flush()
                if uow.outbox.made_due and self.dialect == "postgresql":
                    # Delivered at commit to every instance's delivery engine (outbox_due.py).
                    await conn.execute(NOTIFY_OUTBOX_DUE)
        except BaseException:
            if pending is not None:
                pending.ended(committed=False)
            raise
        if pending is not None:
            pending.ended(committed=True)
        if uow.targets_changed:
            uow.targets_cache.invalidate()  # again: a read meanwhile saw the rows before
        # Committed (not before: an uncommitted row cannot be claimed, nor a rolled-back one).
        if uow.outbox.made_due and self._outbox_listener is not None:
            self._outbox_listener()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside a transaction; database errors leave as gateway errors."""
        try:
            conn = await self._engine.connect()
        except PoolTimeout as err:
            # Every pooled connection stayed busy for `pool_timeout` (SQLAlchemy's own
            # TimeoutError, not the builtin one): the database's weather, not a bug.
            raise Unavailable(f"no database connection free in time ({self.dialect})") from err
        except (DBAPIError, OSError, TimeoutError) as err:
            raise Unavailable(f"cannot connect to the {self.dialect} database") from err
        try:
            async with conn.begin():
                yield conn
        except DBAPIError as err:
            translated = _translate(err, self.dialect)
            if translated is None:
                raise
            raise translated from err
        except StatementError as err:
            # A bind parameter was refused before reaching the database (a naive datetime):
            # that is the caller's mistake, so give them the ValueError, not a SQL wrapper.
            if isinstance(err.orig, NaiveDatetimeError):
                raise err.orig from err
            raise
        finally:
            await conn.close()


def _translate(err: DBAPIError, dialect: str) -> Exception | None:
    sqlstate = getattr(err.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return ConcurrentUpdate("the transaction collided with another one; retry")
    if err.connection_invalidated:
        return Unavailable(f"lost the connection to the {dialect} database")
    if dialect == "sqlite":
        name = getattr(err.orig, "sqlite_errorname", "")
        if isinstance(name, str) and name.startswith(_SQLITE_UNAVAILABLE):
            return Unavailable(f"the SQLite database is unavailable ({name})")
        return None
    if isinstance(err, OperationalError | InterfaceError):
        return Unavailable(f"the {dialect} database is unavailable")
    return None


def _alembic_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _ALEMBIC_LOCKS.get(loop)
    if lock is None:
        lock = _ALEMBIC_LOCKS[loop] = asyncio.Lock()
    return lock


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)
