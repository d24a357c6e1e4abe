"""A booking's events go in one multi-row statement (gateway/store/events.py `append_all`):
written together, each seq still new for its parcel, a taken one refused as before."""

from __future__ import annotations

import pytest

from gateway.domain.enums import ParcelState
from gateway.domain.parcel import ParcelEvent
from gateway.errors import ConcurrentUpdate
from gateway.store import Store
from tests.store.builders import T0, parcel

ANNOUNCED = ParcelEvent(1, "announced", None, ParcelState.ANNOUNCED, T0, {"by": "test"})
RESERVED = ParcelEvent(2, "reserved", ParcelState.ANNOUNCED, ParcelState.RESERVED, T0)


async def test_both_events_are_written_in_order(store: Store) -> None:
    booked = parcel("P-1")
    async with store.transaction() as tx:
        await tx.parcels.insert(booked)
        await tx.events.append_all(booked.uid, [ANNOUNCED, RESERVED])
    async with store.transaction() as tx:
        assert await tx.events.list(booked.uid) == [ANNOUNCED, RESERVED]


async def test_a_taken_seq_refuses_the_batch(store: Store) -> None:
    booked = parcel("P-1")
    async with store.transaction() as tx:
        await tx.parcels.insert(booked)
        await tx.events.append(booked.uid, ANNOUNCED)
    # Another transition wrote seq 1 first: the batch is refused and its transaction rolls back.
    with pytest.raises(ConcurrentUpdate, match="already has one of the events"):
        async with store.transaction() as tx:
            await tx.events.append_all(booked.uid, [ANNOUNCED, RESERVED])
    async with store.transaction() as tx:
        assert await tx.events.list(booked.uid) == [ANNOUNCED]


async def test_one_event_is_an_ordinary_append(store: Store) -> None:
    booked = parcel("P-1")
    async with store.transaction() as tx:
        await tx.parcels.insert(booked)
        await tx.events.append_all(booked.uid, [ANNOUNCED])
    with pytest.raises(ConcurrentUpdate, match="already has event 1"):
        async with store.transaction() as tx:
            await tx.events.append_all(booked.uid, [ANNOUNCED])
