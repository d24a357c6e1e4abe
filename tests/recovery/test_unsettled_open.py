"""A remote open whose recording failed after the locker acted keeps its Idempotency-Key
claimed; a replay must then get the door session's real outcome once the locker reports it,
or, once the open's deadline has passed, open afresh: never 409 for ever."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from gateway.domain.enums import SizeClass
from gateway.domain.sizes import SizeRequirement
from gateway.errors import IdempotencyConflict, OperationTimeout
from gateway.sdk import AdapterTimeout, OpenOutcome, OpenPurpose
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


class ReplyLostAdapter(InstantAdapter):
    """Hardware that unlocks the door but whose reply never reaches the gateway: the command
    went out and the locker acted, so every open it is sent is a physical open."""

    def __init__(self, *, then: type[BaseException] | None = None) -> None:
        self.opens = 0
        self.sent = asyncio.Event()
        self._then = then

    async def open_compartment(
        self, locker_id: str, compartment_code: str, *, purpose: OpenPurpose, deadline: datetime
    ) -> OpenOutcome:
        self.opens += 1
        self.sent.set()
        if self._then is not None:
            raise self._then(f"unlock for {locker_id}: no reply")
        await asyncio.Event().wait()  # the reply that never comes
        raise AssertionError("unreachable")


def _unlocks_with(rig: Rig, clock: MovableClock, adapter: InstantAdapter) -> Unlocks:
    adapters = AdapterDirectory(store=rig.store, adapters={"olp": adapter})
    return Unlocks(
        store=rig.store,
        parcels=rig.parcels,
        adapters=adapters,
        open_timeout=OPEN_TIMEOUT,
        clock=clock,
    )


async def test_a_request_cancelled_after_the_command_went_out_keeps_its_key(rig: Rig) -> None:
    """The HTTP handler is cancelled (the gateway stops, the client went away) while the
    locker acts on the command: a retry with the key must not send a second unlock."""
    clock = MovableClock()
    adapter = ReplyLostAdapter()
    unlocks = _unlocks_with(rig, clock, adapter)
    door = await _book(rig, "P-3")
    first = asyncio.ensure_future(unlocks.remote_open_once(CARRIER, "P-3", opening("open-P-3")))
    await asyncio.wait_for(adapter.sent.wait(), 5)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first

    with pytest.raises(IdempotencyConflict):  # within the deadline: the door may be open
        await unlocks.remote_open_once(CARRIER, "P-3", opening("open-P-3"))
    assert adapter.opens == 1, "the door was unlocked twice for one Idempotency-Key"
    # The locker's journal reports the open: a replay answers it, still without a second open.
    await rig.side.host.locker_event(rig.opened(door))
    answered = await unlocks.remote_open_once(CARRIER, "P-3", opening("open-P-3"))
    assert answered.replayed
    assert answered.answer["outcome"] == "Unlocked"
    assert adapter.opens == 1
    assert await _sessions(rig, door) == 1


async def test_a_timed_out_open_keeps_its_key_until_the_deadline_passed(rig: Rig) -> None:
    """The locker acted but its reply was lost (AdapterTimeout): the carrier's retry is the
    same key, and the locker may still act on the first command until its `exp` + grace."""
    clock = MovableClock()
    adapter = ReplyLostAdapter(then=AdapterTimeout)
    unlocks = _unlocks_with(rig, clock, adapter)
    door = await _book(rig, "P-4")
    with pytest.raises(OperationTimeout):
        await unlocks.remote_open_once(CARRIER, "P-4", opening("open-P-4"))
    clock.advance(OPEN_TIMEOUT.total_seconds())  # the adapter gave up at the deadline
    with pytest.raises(IdempotencyConflict):
        await unlocks.remote_open_once(CARRIER, "P-4", opening("open-P-4"))
    assert adapter.opens == 1, "the door was unlocked twice for one Idempotency-Key"
    clock.advance(EXP_GRACE.total_seconds() + 1)  # no DoorOpened came: nothing opened
    with pytest.raises(OperationTimeout):
        await unlocks.remote_open_once(CARRIER, "P-4", opening("open-P-4"))
    assert adapter.opens == 2
    assert await _sessions(rig, door) == 2


async def test_a_replay_after_the_deadline_loses_to_the_late_door_opened(
    rig: Rig, faults: DatabaseFaults
) -> None:
    """The locker's DoorOpened of the killed open commits while a replay past the deadline
    decides to open afresh: the replay must see the door opened, not overwrite the session
    as failed and unlock a second time (PostgreSQL: row locks, not one writer at a time)."""
    if not rig.postgres:
        pytest.skip("SQLite runs one write transaction at a time: no interleaving")
    clock = MovableClock()
    unlocks = _unlocks(rig, clock)
    door = await _book(rig, "P-5")
    await _open_but_fail_recording(unlocks, faults, "open-P-5")
    clock.advance((OPEN_TIMEOUT + EXP_GRACE).total_seconds() + 1)
    async with rig.store.transaction() as tx:
        session = await tx.doors.live("WAW-001", door)
        assert session is not None
        # The pipeline's transaction for the late DoorOpened, not committed yet.
        await tx.doors.opened(session.id, None, clock())
        replay = asyncio.ensure_future(
            unlocks.remote_open_once(CARRIER, "P-5", opening("open-P-5"))
        )
        await asyncio.sleep(0.5)  # the replay reads the session, then waits for its row
    answered = await asyncio.wait_for(replay, 10)
    assert answered.replayed, "the door was unlocked a second time"
    assert answered.answer["outcome"] == "Unlocked"
    assert await _sessions(rig, door) == 1


async def test_two_replays_after_the_deadline_open_once(rig: Rig, faults: DatabaseFaults) -> None:
    """Two replays of a key left claimed, both past the deadline, at the same moment: one
    opens afresh, the other is refused or answered; never two new unlocks."""
    clock = MovableClock()
    unlocks = _unlocks(rig, clock)
    door = await _book(rig, "P-6")
    await _open_but_fail_recording(unlocks, faults, "open-P-6")
    clock.advance((OPEN_TIMEOUT + EXP_GRACE).total_seconds() + 1)
    outcomes = await asyncio.gather(
        *(unlocks.remote_open_once(CARRIER, "P-6", opening("open-P-6")) for _ in range(2)),
        return_exceptions=True,
    )
    fresh = [o for o in outcomes if not isinstance(o, BaseException) and not o.replayed]
    assert len(fresh) == 1, outcomes
    for other in outcomes:
        if isinstance(other, BaseException):
            assert isinstance(other, IdempotencyConflict), other
    assert await _sessions(rig, door) == 2, "the door was unlocked afresh twice"
