"""The booking's SQL budget: statements counted with SQLAlchemy event hooks, on both engines.

Every statement is a round trip (to aiosqlite's thread, or to the PostgreSQL server) while
the transaction holds its locks, so the count is what reservations/s rests on
(bench/sql_counts.py prints it through the HTTP stack, bench/reservations.py the rate).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from gateway.domain.enums import SizeClass
from gateway.domain.sizes import Dimensions, SizeRequirement
from gateway.errors import NoCompartmentAvailable, NotFound
from gateway.http import render
from gateway.service.idempotency import IdempotencyKey, Idempotent
from gateway.service.parcels import NewParcel, ParcelService
from gateway.store import Store
from tests.store.builders import compartments, locker
from tests.store.sql_log import statements

S, M = SizeClass.S, SizeClass.M


async def test_allocation_by_size_class_claims_in_one_statement(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.lockers.add(locker("WAW-001"), compartments("WAW-001", [M, S, S]))
    with statements(store) as sent:
        async with store.transaction() as uow:
            claimed = await uow.lockers.allocate("WAW-001", SizeRequirement(S), "p1")
    assert claimed.code == "C02"  # the smallest fitting, by code among equals
    assert claimed.parcel_uid == "p1"
    assert len(sent) == 1
    assert sent[0].startswith("UPDATE compartments")


async def test_allocation_by_dimensions_still_reads_candidates(store: Store) -> None:
    # Rotation decides fit in Python: a page is read, then the chosen row claimed.
    async with store.transaction() as uow:
        await uow.lockers.add(locker("WAW-001"), compartments("WAW-001", [S, M]))
    need = SizeRequirement(None, Dimensions(width_mm=10, height_mm=10, depth_mm=10))
    with statements(store) as sent:
        async with store.transaction() as uow:
            claimed = await uow.lockers.allocate("WAW-001", need, "p1")
    assert claimed.code == "C01"
    assert [s.split()[0] for s in sent] == ["SELECT", "UPDATE"]


async def test_a_full_locker_falls_back_and_refuses(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.lockers.add(locker("WAW-001"), compartments("WAW-001", [S]))
        await uow.lockers.allocate("WAW-001", SizeRequirement(S), "p1")
    with pytest.raises(NoCompartmentAvailable):
        async with store.transaction() as uow:
            await uow.lockers.allocate("WAW-001", SizeRequirement(S), "p2")


def _service(store: Store) -> ParcelService:
    return ParcelService(
        store=store, reservation_ttl=timedelta(hours=1), pickup_window=timedelta(hours=24)
    )


def _booking(parcel_id: str, locker_id: str = "WAW-001") -> NewParcel:
    return NewParcel("acme", parcel_id, locker_id, SizeRequirement(S))


async def test_a_booking_sends_six_statements(store: Store) -> None:
    """The claim, the parcel, its two events in one statement, the carrier's delivery targets
    (once for both events) and the stored answer: nothing read twice, and the key is looked
    up only when the booking fails (tests/store/test_optimistic_booking.py)."""
    async with store.transaction() as uow:
        await uow.lockers.add(locker("WAW-001"), compartments("WAW-001", [S, S]))
    parcels = _service(store)
    with statements(store) as sent:
        answered = await parcels.create(
            _booking("ACME-1"), Idempotent(IdempotencyKey("k-1", "f-1"), render.parcel)
        )
    assert answered.answer["compartmentCode"] == "C01"
    # Soft holds (gateway/service/holds.py) ride in the claim's own statement; PostgreSQL
    # counts them once more after the claim, since a hold may commit in between.
    postgres = store.dialect == "postgresql"
    assert len(sent) == 6 + postgres, "\n".join(sent)
    events = [s for s in sent if s.startswith("INSERT INTO parcel_events")]
    assert len(events) == 1, events


async def test_booking_statements_are_built_once(store: Store) -> None:
    """Bookings at two lockers execute the very same statement objects (only their
    parameters differ): none is rebuilt per booking, which cost ~2 ms of SQLAlchemy work."""
    async with store.transaction() as uow:
        for locker_id in ("WAW-001", "WAW-002"):
            await uow.lockers.add(locker(locker_id), compartments(locker_id, [S]))
    parcels = _service(store)
    executed: list[list[Any]] = []  # the objects themselves: ids of freed ones are reused

    def record(_conn: Any, clause: Any, *_args: Any) -> None:
        executed[-1].append(clause)

    event.listen(store.engine.sync_engine, "before_execute", record)
    try:
        for n, locker_id in enumerate(("WAW-001", "WAW-002")):
            executed.append([])
            await parcels.create(
                _booking(f"ACME-{n}", locker_id),
                Idempotent(IdempotencyKey(f"k-{n}", f"f-{n}"), render.parcel),
            )
    finally:
        event.remove(store.engine.sync_engine, "before_execute", record)
    first, second = executed
    # (The second may send fewer: the carrier's delivery targets can come from their cache.)
    rebuilt = [str(b).split("\n")[0] for b in second if not any(b is a for a in first)]
    assert not rebuilt, f"built anew for the second booking: {rebuilt}"


async def test_booking_at_an_unknown_locker_is_not_found(store: Store) -> None:
    # The locker is looked up only when the claim finds nothing: still a 404, not a 409.
    parcels = _service(store)
    with pytest.raises(NotFound, match="no locker"):
        await parcels.create(
            _booking("ACME-1", "NOWHERE"), Idempotent(IdempotencyKey("k-1", "f-1"), render.parcel)
        )
    async with store.transaction() as uow:
        await uow.lockers.add(locker("WAW-001"), compartments("WAW-001", [S]))
    await parcels.create(
        _booking("ACME-2"), Idempotent(IdempotencyKey("k-2", "f-2"), render.parcel)
    )
    with pytest.raises(NoCompartmentAvailable):
        await parcels.create(
            _booking("ACME-3"), Idempotent(IdempotencyKey("k-3", "f-3"), render.parcel)
        )


async def test_sqlite_runs_one_connection_at_a_time(sqlite_store: Store) -> None:
    # Every SQLite transaction takes the write lock (BEGIN IMMEDIATE): a second pooled
    # connection could only sleep in SQLite's busy handler, so the pool queues them instead.
    assert sqlite_store.engine.pool.size() == 1  # type: ignore[attr-defined]
