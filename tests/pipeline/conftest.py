"""The gateway's locker side over a real database, and real faults of that database.

`Rig` is LockerSide.build over SQLite or PostgreSQL with one provisioned locker, a carrier and
a booted session; its adapter stands in for the hardware only (it unlocks at once). Faults are
the database's own: a trigger that refuses writes (an error that no retry cures), SQLite's
write lock held by another connection, or PostgreSQL's serialization failure (transient).
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, ClassVar, Self

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import ConnectionPoolEntry

from gateway.domain.enums import ItemSensor, ParcelState, SizeClass
from gateway.domain.parcel import Parcel
from gateway.domain.sizes import SizeRequirement
from gateway.http import render
from gateway.observability.metrics import Metrics
from gateway.sdk import (
    AdapterConfig,
    AdapterFeatures,
    BootInfo,
    CompartmentInfo,
    DoorClosed,
    DoorOpened,
    LockerAdapter,
    LockerStatus,
    OpenOutcome,
    OpenPurpose,
)
from gateway.service.adapters import AdapterDirectory
from gateway.service.carriers import CarrierService
from gateway.service.codes import CodeService
from gateway.service.event_pipeline import RetryPolicy
from gateway.service.idempotency import IdempotencyKey, Idempotent
from gateway.service.locker_host import LockerSide
from gateway.service.lockers import LockerService
from gateway.service.parcels import NewParcel, ParcelService
from gateway.service.unlocks import OpenResult
from gateway.store import Store
from tests.store.builders import compartments, locker
from tests.support.carriers import TestCarrier

LOCKER = "WAW-001"
CARRIER = "acme"
# How long a SQLite writer waits for the file lock in these tests (the gateway's is 30 s).
BUSY_TIMEOUT_MS = 100


def booking(key: str) -> Idempotent[Parcel]:
    return Idempotent(IdempotencyKey(key, key), render.parcel)


def opening(key: str) -> Idempotent[OpenResult]:
    return Idempotent(IdempotencyKey(key, key), render.open_result)


class InstantConfig(AdapterConfig):
    pass


class InstantAdapter:
    """Hardware that unlocks every door at once: the locker side's only non-gateway part."""

    name: ClassVar[str] = "olp"
    features: ClassVar[AdapterFeatures] = AdapterFeatures.DOOR_SENSOR | AdapterFeatures.ITEM_SENSOR
    config_model: ClassVar[type[AdapterConfig]] = InstantConfig

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def open_compartment(
        self, locker_id: str, compartment_code: str, *, purpose: OpenPurpose, deadline: datetime
    ) -> OpenOutcome:
        return OpenOutcome.UNLOCKED

    async def read_status(self, locker_id: str) -> LockerStatus:
        return LockerStatus(locker_id=locker_id, online=True, booted=True)


@dataclass
class Sleeps:
    """The pipeline's wait between attempts: recorded, short, and a hook to end a fault."""

    waits: list[float] = field(default_factory=list)
    after: int | None = None  # call `cure` once this many waits happened
    cure: Any = None

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.cure is not None and len(self.waits) == self.after:
            await self.cure()
        await asyncio.sleep(min(seconds, 0.01))


@dataclass
class Rig:
    store: Store
    side: LockerSide
    parcels: ParcelService
    sleeps: Sleeps
    url: str
    seq: int = 0

    @property
    def postgres(self) -> bool:
        return self.store.dialect == "postgresql"

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def side_with(self, adapter: LockerAdapter, *, metrics: Metrics | None = None) -> LockerSide:
        """Another LockerSide over this rig's store and parcels, driving `adapter` as "olp"."""
        return LockerSide.build(
            store=self.store,
            parcels=self.parcels,
            codes=CodeService(store=self.store),
            adapters=AdapterDirectory(store=self.store, adapters={"olp": adapter}),
            metrics=metrics,
        )

    async def opened_parcel(self, parcel_id: str) -> tuple[str, str]:
        """A reserved parcel whose door the carrier opened: (compartment, parcel uid)."""
        need = SizeRequirement(SizeClass.S)
        cmd = NewParcel(carrier_id=CARRIER, parcel_id=parcel_id, locker_id=LOCKER, need=need)
        await self.parcels.create(cmd, booking(f"book-{parcel_id}"))
        await self.side.unlocks.remote_open_once(CARRIER, parcel_id, opening(f"open-{parcel_id}"))
        async with self.store.transaction() as tx:
            parcel = await tx.parcels.get(CARRIER, parcel_id)
        assert parcel is not None
        assert parcel.compartment_code is not None
        return parcel.compartment_code, parcel.uid

    def opened(self, door: str) -> DoorOpened:
        return DoorOpened(
            locker_id=LOCKER,
            at=datetime.now(UTC),
            event_id=str(uuid.uuid4()),
            event_seq=self.next_seq(),
            compartment_code=door,
        )

    def deposited(self, door: str) -> DoorClosed:
        return DoorClosed(
            locker_id=LOCKER,
            at=datetime.now(UTC),
            event_id=str(uuid.uuid4()),
            event_seq=self.next_seq(),
            compartment_code=door,
            item=ItemSensor.PRESENT,
        )

    async def state(self, parcel_id: str) -> ParcelState:
        async with self.store.transaction() as tx:
            parcel = await tx.parcels.get(CARRIER, parcel_id)
        assert parcel is not None
        return parcel.state

    async def mark(self) -> int | None:
        async with self.store.transaction() as tx:
            return await tx.sessions.event_mark(LOCKER)


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    async with Store.connect(database_url) as store:
        await store.migrate()
        if store.dialect == "sqlite":
            await _short_busy_timeout(store)
        await CarrierService(store=store).register(
            CARRIER, TestCarrier.ed25519(CARRIER, "net").jwks
        )
        await LockerService(store=store).provision(
            locker(LOCKER), compartments(LOCKER, [SizeClass.S] * 6)
        )
        parcels = ParcelService(
            store=store,
            reservation_ttl=timedelta(hours=1),
            pickup_window=timedelta(hours=48),
        )
        sleeps = Sleeps()
        adapters = AdapterDirectory(store=store, adapters={"olp": InstantAdapter()})
        side = LockerSide.build(
            store=store,
            parcels=parcels,
            codes=CodeService(store=store),
            adapters=adapters,
            retry=RetryPolicy(attempts=4, base_s=0.01, cap_s=0.05),
            # The pipeline's waits go through the recorder (so a test can end a fault mid-retry).
            sleep=sleeps,
        )
        info = BootInfo(
            vendor="acme",
            model="lb",
            firmware="1.0",
            compartments=(CompartmentInfo(code="C01", size_class=SizeClass.S),),
        )
        await side.host.authorize_boot(LOCKER, info)
        yield Rig(store=store, side=side, parcels=parcels, sleeps=sleeps, url=database_url)


async def _short_busy_timeout(store: Store) -> None:
    """Writers give up on the file lock after BUSY_TIMEOUT_MS instead of 30 s."""

    @event.listens_for(store.engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    await store.engine.dispose()  # the connections pooled by the migration have 30 s


# ---- faults of the database itself ----------------------------------------------------------


class DatabaseFaults:
    """Real faults, made with a second connection of the test's own; all undone at the end."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._sqlite_path = parsed.database if parsed.get_backend_name() == "sqlite" else None
        self._pg_dsn = None if self._sqlite_path else parsed.set(drivername="postgresql")
        self._lock: sqlite3.Connection | None = None
        self._triggers: list[str] = []

    async def _pg(self, sql: str) -> None:
        assert self._pg_dsn is not None
        conn = await asyncpg.connect(self._pg_dsn.render_as_string(hide_password=False))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def _sqlite(self, sql: str) -> None:
        assert self._sqlite_path is not None
        with sqlite3.connect(self._sqlite_path) as conn:
            conn.executescript(sql)

    async def refuse_updates(self, table: str, message: str) -> None:
        """A trigger refuses every UPDATE of `table`: no retry cures that."""
        name = f"refuse_{table}"
        self._triggers.append(table)
        if self._sqlite_path:
            self._sqlite(
                f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END;"
            )
            return
        await self._pg(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN RAISE EXCEPTION '{message}'; END $$; "
            f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}();"
        )

    async def transient(self, table: str) -> None:
        """Writes fail the way a busy database fails: SQLite's file lock is held by another
        writer; PostgreSQL reports a serialization failure (SQLSTATE 40001) on `table`."""
        if self._sqlite_path:
            self._lock = sqlite3.connect(self._sqlite_path, isolation_level=None)
            self._lock.execute("BEGIN IMMEDIATE")
            return
        name = f"refuse_{table}"
        self._triggers.append(table)
        await self._pg(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001'; END $$; "
            f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {name}();"
        )

    async def heal(self) -> None:
        if self._lock is not None:
            self._lock.execute("ROLLBACK")
            self._lock.close()
            self._lock = None
        for table in self._triggers:
            name = f"refuse_{table}"
            if self._sqlite_path:
                self._sqlite(f"DROP TRIGGER IF EXISTS {name};")
            else:
                await self._pg(
                    f"DROP TRIGGER IF EXISTS {name} ON {table}; DROP FUNCTION IF EXISTS {name}();"
                )
        self._triggers.clear()


@pytest.fixture
async def faults(rig: Rig) -> AsyncIterator[DatabaseFaults]:
    made = DatabaseFaults(rig.url)
    try:
        yield made
    finally:
        await made.heal()
