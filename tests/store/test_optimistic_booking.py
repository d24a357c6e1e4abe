"""A booking does not look up its Idempotency-Key first (gateway/service/idempotency.py,
`optimistic`): a replay or a reused key is found when the booking fails, in its transaction,
which then rolls back whatever it did, and answers exactly as a lookup first would."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.domain.enums import SizeClass
from gateway.domain.parcel import Parcel
from gateway.domain.sizes import SizeRequirement
from gateway.errors import IdempotencyConflict, NoCompartmentAvailable
from gateway.http import render
from gateway.service.idempotency import IdempotencyKey, Idempotent
from gateway.service.parcels import NewParcel, ParcelService
from gateway.store import Store
from tests.store.builders import compartments, locker

S = SizeClass.S


def _service(store: Store) -> ParcelService:
    return ParcelService(
        store=store, reservation_ttl=timedelta(hours=1), pickup_window=timedelta(hours=24)
    )


def _booking(parcel_id: str) -> NewParcel:
    return NewParcel("acme", parcel_id, "WAW-001", SizeRequirement(S))


def _key(key: str, fingerprint: str) -> Idempotent[Parcel]:
    return Idempotent(IdempotencyKey(key, fingerprint), render.parcel)


async def _parcel_ids(store: Store) -> list[str]:
    async with store.transaction() as tx:
        items, _ = await tx.parcels.list("acme")
    return sorted(parcel.parcel_id for parcel in items)


async def test_a_replay_gets_the_first_answer_even_when_the_locker_is_full(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.lockers.add(locker("WAW-001"), compartments("WAW-001", [S]))
    parcels = _service(store)
    first = await parcels.create(_booking("ACME-1"), _key("k-1", "f-1"))
    # The only compartment is taken: booking again fails, so the key is looked up and the
    # stored answer returned, not the 409 of a full locker.
    again = await parcels.create(_booking("ACME-1"), _key("k-1", "f-1"))
    assert again.replayed
    assert again.answer == first.answer


async def test_a_reused_key_is_refused_and_books_nothing(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.lockers.add(locker("WAW-001"), compartments("WAW-001", [S, S]))
    parcels = _service(store)
    await parcels.create(_booking("ACME-1"), _key("k-1", "f-1"))
    # Another parcel under the same key: its booking succeeds in the first attempt, the
    # answer's insert finds the key taken, and the whole transaction rolls back.
    with pytest.raises(IdempotencyConflict):
        await parcels.create(_booking("ACME-2"), _key("k-1", "f-2"))
    assert await _parcel_ids(store) == ["ACME-1"]
    async with store.transaction() as tx:
        free = await tx.lockers.compartments("WAW-001")
    assert [c.parcel_uid is None for c in free] == [False, True]


async def test_a_refusal_is_still_a_refusal(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.lockers.add(locker("WAW-001"), compartments("WAW-001", [S]))
    parcels = _service(store)
    await parcels.create(_booking("ACME-1"), _key("k-1", "f-1"))
    with pytest.raises(NoCompartmentAvailable):
        await parcels.create(_booking("ACME-2"), _key("k-2", "f-2"))
    assert await _parcel_ids(store) == ["ACME-1"]
