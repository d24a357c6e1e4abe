"""The statements of a door transition, on both engines: a door reading is one conditional
UPDATE (no read first), an unlock's answer brings its parcel's state back with its own UPDATE,
and a carrier's delivery targets are read once per moment, not once per transition.
(bench/door_transactions.py prints the counts of whole transitions.)"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event

from gateway.domain.door import OpenOutcome, OpenPurpose
from gateway.domain.enums import DoorState, ItemSensor, ParcelState, SizeClass
from gateway.service.door_state import set_door
from gateway.service.notifications import carrier_targets
from gateway.store import CarrierRecord, Store, WebhookSubscriptionRecord
from tests.store.builders import T0, compartments, locker, parcel
from tests.store.sql_log import statements

S = SizeClass.S


@pytest.fixture
async def one_door(store: Store) -> Store:
    async with store.transaction() as uow:
        await uow.lockers.add(locker("WAW-001"), compartments("WAW-001", [S]))
    return store


async def test_a_door_reading_is_one_conditional_update(one_door: Store) -> None:
    store = one_door
    with statements(store) as sent:
        async with store.transaction() as uow:
            await set_door(uow, "WAW-001", "C01", door=DoorState.OPEN)
    assert [s.split()[0] for s in sent] == ["UPDATE"], sent
    async with store.transaction() as uow:
        await set_door(uow, "WAW-001", "C01", door=DoorState.CLOSED, item=ItemSensor.PRESENT)
        door = await uow.lockers.compartment("WAW-001", "C01")
    assert door is not None
    assert (door.door, door.item) == (DoorState.CLOSED, ItemSensor.PRESENT)


async def test_a_repeated_or_unknown_door_reading_writes_nothing(
    one_door: Store, caplog: pytest.LogCaptureFixture
) -> None:
    store = one_door
    async with store.transaction() as uow:
        before = await uow.lockers.compartment("WAW-001", "C01")
        assert before is not None
        assert not await uow.lockers.set_door("WAW-001", "C01", door=before.door)
        assert not await uow.lockers.set_door("WAW-001", "C01", door=before.door, item=before.item)
        assert await uow.lockers.compartment("WAW-001", "C01") == before  # updated_at too
    with caplog.at_level(logging.WARNING, logger="gateway.service.door_state"):
        async with store.transaction() as uow:
            await set_door(uow, "WAW-001", "C99", door=DoorState.OPEN)
    assert "unknown compartment C99" in caplog.text


async def test_an_unlock_answer_brings_the_parcel_state_in_its_own_statement(
    one_door: Store,
) -> None:
    store = one_door
    booked = parcel(state=ParcelState.RESERVED, compartment_code="C01")
    async with store.transaction() as uow:
        await uow.parcels.insert(booked)
        session = await uow.doors.start(
            locker_id="WAW-001",
            compartment_code="C01",
            parcel_uid=booked.uid,
            purpose=OpenPurpose.DEPOSIT,
            deadline=T0 + timedelta(seconds=30),
        )
    with statements(store) as sent:
        async with store.transaction() as uow:
            recorded = await uow.doors.record_answer(session.id, OpenOutcome.UNLOCKED, T0)
    assert len(sent) == 1, sent
    assert recorded is not None
    assert recorded.parcel_state is ParcelState.RESERVED
    async with store.transaction() as uow:
        # The session is open now: a second answer changes nothing and reads nothing.
        assert await uow.doors.record_answer(session.id, OpenOutcome.UNLOCKED, T0) is None
        # A failure still ends a live session; one without a parcel has no state.
        empty = await uow.doors.start(
            locker_id="WAW-001",
            compartment_code="C01",
            parcel_uid=None,
            purpose=OpenPurpose.SERVICE,
            deadline=T0 + timedelta(seconds=30),
        )
        failed = await uow.doors.record_answer(empty.id, OpenOutcome.DOOR_JAMMED, T0)
        stored = await uow.doors.get(empty.id)
    assert failed is not None
    assert failed.parcel_state is None
    assert stored is not None
    assert stored.outcome is OpenOutcome.DOOR_JAMMED


def _subscription(sub_id: str) -> WebhookSubscriptionRecord:
    return WebhookSubscriptionRecord(sub_id, "acme", "http://x.test/h", None, None, True, T0)


async def test_a_carriers_targets_are_read_once_then_again_after_a_change(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.carriers.add(CarrierRecord("acme", "ACME", {"keys": []}, T0))
        await uow.webhooks.add(_subscription("sub-1"))
    async with store.transaction() as uow:
        first = await carrier_targets(uow, "acme")
    with statements(store) as sent:
        async with store.transaction() as uow:
            again = await carrier_targets(uow, "acme")
    assert sent == []
    assert again == first
    assert [s.id for s in again.webhooks] == ["sub-1"]
    # A change through this process is seen by the very next transition.
    async with store.transaction() as uow:
        await uow.webhooks.add(_subscription("sub-2"))
    async with store.transaction() as uow:
        changed = await carrier_targets(uow, "acme")
    assert [s.id for s in changed.webhooks] == ["sub-1", "sub-2"]
    async with store.transaction() as uow:
        assert await uow.webhooks.deactivate("acme", "sub-1", T0)
    async with store.transaction() as uow:
        assert [s.id for s in (await carrier_targets(uow, "acme")).webhooks] == ["sub-2"]


async def test_targets_read_by_a_transaction_that_changed_them_are_not_shared(
    store: Store,
) -> None:
    async with store.transaction() as uow:
        await uow.carriers.add(CarrierRecord("acme", "ACME", {"keys": []}, T0))

    async def add_then_fail() -> None:
        async with store.transaction() as uow:
            await uow.webhooks.add(_subscription("sub-1"))
            assert len((await carrier_targets(uow, "acme")).webhooks) == 1
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        await add_then_fail()
    async with store.transaction() as uow:
        assert (await carrier_targets(uow, "acme")).webhooks == ()


@pytest.mark.postgres
async def test_a_new_postgresql_connection_costs_one_query(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's session settings")
    queries: list[str] = []
    async with Store.connect(database_url) as store:

        @event.listens_for(store.engine.sync_engine, "connect", insert=True)
        def _log(dbapi_connection: Any, _record: Any) -> None:
            raw: asyncpg.Connection = dbapi_connection.driver_connection
            raw.add_query_logger(lambda record: queries.append(record.query))

        await store.ping()
    durability = [q for q in queries if "synchronous_commit" in q or "fsync" in q]
    assert len(durability) == 1, queries
