"""A DoorOpened that arrives after its door session was ended as failed (no answer before the
deadline, the key freed) is a real, physical open: it must reach the door's state and the audit
trail, not be dropped as stale. Only a DoorOpened older than the door's last *close* is stale."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from gateway.domain.door import DoorSessionState
from gateway.domain.enums import DoorState
from gateway.sdk import OpenPurpose
from gateway.store import tables
from tests.pipeline.conftest import LOCKER, Rig


async def _door_openings(rig: Rig, door: str) -> int:
    t = tables.audit_log
    stmt = select(t.c.details).where(t.c.action == "door.opened", t.c.subject == f"{LOCKER}/{door}")
    async with rig.store.engine.connect() as conn:
        return len((await conn.execute(stmt)).all())


async def test_a_door_opened_after_its_session_failed_is_kept(rig: Rig) -> None:
    async with rig.store.transaction() as tx:
        door = "C01"
        session = await tx.doors.start(
            locker_id=LOCKER,
            compartment_code=door,
            parcel_uid=None,
            purpose=OpenPurpose.DEPOSIT,
            deadline=datetime.now(UTC) + timedelta(seconds=10),
        )
    event = rig.opened(door)  # the locker opened the door now; its report is late
    async with rig.store.transaction() as tx:
        await tx.doors.failed(session.id, None, event.at + timedelta(seconds=12))
    before = await _door_openings(rig, door)
    await rig.side.host.locker_event(event)
    async with rig.store.transaction() as tx:
        compartment = await tx.lockers.compartment(LOCKER, door)
    assert compartment is not None
    assert compartment.door is DoorState.OPEN, "a physical open was dropped as stale"
    assert await _door_openings(rig, door) == before + 1


async def test_a_forced_door_is_not_taken_for_an_expired_unlock(rig: Rig) -> None:
    """A door session left REQUESTED (the gateway died mid-unlock, or the unlock went
    unanswered) long after its deadline: the locker can no longer act on that command, so a
    door opening now is unasked (forced, or a fault) and must be audited as such, not as the
    carrier's open, nor let its close move the parcel."""
    door = "C02"
    async with rig.store.transaction() as tx:
        stale = await tx.doors.start(
            locker_id=LOCKER,
            compartment_code=door,
            parcel_uid=None,
            purpose=OpenPurpose.PICKUP,
            deadline=datetime.now(UTC) - timedelta(hours=1),
        )
    await rig.side.host.locker_event(rig.opened(door))
    t = tables.audit_log
    stmt = select(t.c.details).where(t.c.action == "door.opened", t.c.subject == f"{LOCKER}/{door}")
    async with rig.store.engine.connect() as conn:
        [details] = (await conn.execute(stmt)).scalars().all()
    assert details["session"] is None, "a forced door was audited as an expired unlock's open"
    async with rig.store.transaction() as tx:
        ended = await tx.doors.get(stale.id)
    assert ended is not None
    assert ended.state is DoorSessionState.FAILED
