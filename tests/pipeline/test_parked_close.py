"""A parked DoorClosed applied by a late retry must not close a door session that began after
the close happened: it would end the new opening with the old item sensor (its parcel's
verdict taken from a stale reading) and leave the door's real DoorClosed without a session."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select, update

from gateway.domain.door import DoorSessionState
from gateway.store import tables
from tests.pipeline.conftest import CARRIER, LOCKER, DatabaseFaults, Rig, opening


async def test_a_late_parked_close_leaves_a_newer_session_alone(
    rig: Rig, faults: DatabaseFaults
) -> None:
    door, _ = await rig.opened_parcel("P-1")
    # That open and its close happened an hour ago; the close was parked since (its
    # transaction failed for good).
    t = tables.door_sessions
    async with rig.store.engine.begin() as conn:
        [(first, at)] = (await conn.execute(select(t.c.id, t.c.requested_at))).all()
        await conn.execute(
            update(t).where(t.c.id == first).values(requested_at=at - timedelta(hours=1))
        )
    closed = rig.deposited(door)
    closed = replace(closed, at=closed.at - timedelta(hours=1) + timedelta(seconds=5))
    await faults.refuse_updates("door_sessions", "door sessions are read-only")
    await rig.side.host.locker_event(closed)
    assert rig.side.pipeline.counts.parked == 1
    await faults.heal()

    # The carrier opens the door again: a new session, the door open right now.
    await rig.side.unlocks.remote_open_once(CARRIER, "P-1", opening("open-P-1-again"))
    async with rig.store.transaction() as tx:
        newer = await tx.doors.live(LOCKER, door)
    assert newer is not None
    assert newer.state is DoorSessionState.OPEN

    async with rig.store.transaction() as tx:
        await tx.parked_events.request_retry()
    await rig.side.pipeline.retry_flagged()
    async with rig.store.transaction() as tx:
        after = await tx.doors.get(newer.id)
    assert after is not None
    assert after.state is DoorSessionState.OPEN, "a stale close ended the newer door session"
