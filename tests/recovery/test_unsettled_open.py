"""A remote open whose recording failed after the locker acted keeps its Idempotency-Key
claimed; a replay must then get the door session's real outcome once the locker reports it,
or, once the open's deadline has passed, open afresh: never 409 for ever."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.domain.enums import SizeClass
from gateway.domain.sizes import SizeRequirement
from gateway.errors import IdempotencyConflict
from gateway.service.adapters import AdapterDirectory
from gateway.service.parcels import NewParcel
from gateway.service.unlocks import EXP_GRACE, Unlocks
from gateway.store import tables
from tests.pipeline.conftest import CARRIER, DatabaseFaults, InstantAdapter, Rig, booking, opening
from tests.support.clock import MovableClock

OPEN_TIMEOUT = timedelta(seconds=10)


async def _book(rig: Rig, parcel_id: str) -> str:
    cmd = NewParcel(
        carrier_id=CARRIER,
        parcel_id=parcel_id,
        locker_id="WAW-001",
        need=SizeRequirement(SizeClass.S),
    )
    booked = await rig.parcels.create(cmd, booking(f"book-{parcel_id}"))
    code: str = booked.answer["compartmentCode"]
    return code


async def _sessions(rig: Rig, door: str) -> int:
    t = tables.door_sessions
    stmt = select(func.count()).select_from(t).where(t.c.compartment_code == door)
    async with rig.store.engine.connect() as conn:
        return int((await conn.execute(stmt)).scalar_one())


def _unlocks(rig: Rig, clock: MovableClock) -> Unlocks:
    adapters = AdapterDirectory(store=rig.store, adapters={"olp": InstantAdapter()})
    return Unlocks(
        store=rig.store,
        parcels=rig.parcels,
        adapters=adapters,
        open_timeout=OPEN_TIMEOUT,
        clock=clock,
    )


async def _open_but_fail_recording(unlocks: Unlocks, faults: DatabaseFaults, key: str) -> None:
    # The answer is stored by an UPDATE of the claimed key, in the recording transaction.
    await faults.refuse_updates("idempotency_keys", "disk full")
    with pytest.raises(Exception, match="disk full"):
        await unlocks.remote_open_once(CARRIER, key.removeprefix("open-"), opening(key))
    await faults.heal()


async def test_a_replay_answers_the_outcome_the_locker_reports(
    rig: Rig, faults: DatabaseFaults
) -> None:
    clock = MovableClock()
    unlocks = _unlocks(rig, clock)
    door = await _book(rig, "P-1")
    await _open_but_fail_recording(unlocks, faults, "open-P-1")

    with pytest.raises(IdempotencyConflict):  # within the deadline: may still be running
        await unlocks.remote_open_once(CARRIER, "P-1", opening("open-P-1"))
    await rig.side.host.locker_event(rig.opened(door))
    clock.advance((OPEN_TIMEOUT + EXP_GRACE).total_seconds() + 1)  # even after the deadline
    answered = await unlocks.remote_open_once(CARRIER, "P-1", opening("open-P-1"))
    assert answered.replayed
    assert answered.answer["outcome"] == "Unlocked"
    assert await _sessions(rig, door) == 1, "a second unlock was sent"
    again = await unlocks.remote_open_once(CARRIER, "P-1", opening("open-P-1"))
    assert again.answer == answered.answer


async def test_a_replay_after_the_deadline_opens_afresh(rig: Rig, faults: DatabaseFaults) -> None:
    clock = MovableClock()
    unlocks = _unlocks(rig, clock)
    door = await _book(rig, "P-2")
    await _open_but_fail_recording(unlocks, faults, "open-P-2")

    clock.advance(OPEN_TIMEOUT.total_seconds())  # the deadline, but not its grace
    with pytest.raises(IdempotencyConflict):
        await unlocks.remote_open_once(CARRIER, "P-2", opening("open-P-2"))
    clock.advance(EXP_GRACE.total_seconds() + 1)
    answered = await unlocks.remote_open_once(CARRIER, "P-2", opening("open-P-2"))
    assert not answered.replayed
    assert answered.answer["outcome"] == "Unlocked"
    assert await _sessions(rig, door) == 2
    again = await unlocks.remote_open_once(CARRIER, "P-2", opening("open-P-2"))
    assert again.replayed
    assert again.answer == answered.answer
