"""What lockers report about their doors: DoorOpened, DoorClosed and faults.

Each method runs inside the event's own transaction (EventPipeline), so the journal mark,
the inbox entry, the door session, the compartment, the parcel's transition, its outbox rows
and the audit entries of one event commit together or not at all.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from gateway.domain.door import DoorSessionState, OpenOutcome, on_close
from gateway.domain.enums import DoorState
from gateway.sdk import DoorClosed, DoorOpened, FaultKind, LockerFault
from gateway.service.door_audit import audit_open, audit_unasked_open
from gateway.service.door_state import apply_verdict, door_reading, jammed, set_door
from gateway.service.grant_doors import grant_opened
from gateway.service.parcels import ParcelService
from gateway.service.temperature import temperature_fault
from gateway.store import UnitOfWork

log = logging.getLogger(__name__)
# How far a locker's clock (an event's `at`) may differ from ours (a session's `requested_at`
# and `deadline`) before its event counts as outside the session: generous against skew, far
# below the minutes after which a parked event is retried or a left-over session is stale.
LOCKER_SKEW = timedelta(seconds=60)


class DoorEvents:
    def __init__(self, *, parcels: ParcelService) -> None:
        self._parcels = parcels

    async def opened(self, tx: UnitOfWork, event: DoorOpened) -> None:
        if event.grant is not None:
            # The locker verified a grant offline and opened the door itself.
            if await grant_opened(tx, event, event.grant) is None:
                # Refused, yet the door stood open: the trail must show that too.
                await audit_unasked_open(tx, event.locker_id, event.compartment_code)
            await set_door(tx, event.locker_id, event.compartment_code, door=DoorState.OPEN)
            return
        session = await tx.doors.live(event.locker_id, event.compartment_code)
        if (
            session is not None
            and session.state is DoorSessionState.REQUESTED
            and event.at > session.deadline + LOCKER_SKEW
        ):
            # An unlock left unanswered (the gateway died, the reply was lost) whose `exp` had
            # long passed when the door opened: the locker could not act on it any more, so
            # this open is not its. Ended here, the open is audited as unasked (a forced door)
            # and its close does not move the parcel as if the carrier had opened it.
            await tx.doors.failed(session.id, None, event.at)
            session = None
        if session is not None:
            await tx.doors.opened(session.id, None, event.at)
            await audit_open(tx, session, f"locker:{event.locker_id}", source="sensor")
        else:
            # Events of different topics may overtake each other: an "opened" older than the
            # close that ended the last session is stale and must not reopen the door. Only a
            # door close counts: a session that failed (no answer before its deadline) also has
            # a `closed_at`, and the late report of its open is a real open, never stale.
            last = await tx.doors.latest(event.locker_id, event.compartment_code)
            if (
                last is not None
                and last.state is DoorSessionState.CLOSED
                and last.closed_at is not None
                and event.at <= last.closed_at
            ):
                log.info(
                    "stale DoorOpened for %s/%s ignored", event.locker_id, event.compartment_code
                )
                return
            await audit_unasked_open(tx, event.locker_id, event.compartment_code)
        await set_door(tx, event.locker_id, event.compartment_code, door=DoorState.OPEN)

    async def closed(self, tx: UnitOfWork, event: DoorClosed) -> None:
        session = await tx.doors.live(event.locker_id, event.compartment_code)
        if session is not None and event.at < session.requested_at - LOCKER_SKEW:
            # A close from before this session began (a parked event retried late): it ended
            # an older opening. Applied here it would end the door's current opening with a
            # stale item reading and leave its real close without a session.
            log.warning(
                "stale DoorClosed %s of %s/%s (at %s) predates door session %d; ignored",
                event.event_id,
                event.locker_id,
                event.compartment_code,
                event.at.isoformat(),
                session.id,
            )
            return
        if session is None:
            await set_door(
                tx, event.locker_id, event.compartment_code, door=DoorState.CLOSED, item=event.item
            )
            log.info("door %s/%s closed outside a session", event.locker_id, event.compartment_code)
            return
        # The door's reading and the parcel's compartment effect: one update, not two.
        reading = await door_reading(
            tx, event.locker_id, event.compartment_code, door=DoorState.CLOSED, item=event.item
        )
        await tx.doors.closed(session.id, event.item, event.at)
        verdict = on_close(session.purpose, event.item)
        await apply_verdict(tx, self._parcels, session, verdict, reading=reading)

    async def fault(self, tx: UnitOfWork, event: LockerFault) -> None:
        if event.fault is FaultKind.TEMPERATURE_OUT_OF_RANGE:
            # Not a door's fault: the compartment's temperature alarm (delivery requirements).
            await temperature_fault(tx, event)
            return
        log.warning(
            "locker %s fault %s on %s: %s",
            event.locker_id,
            event.fault,
            event.compartment_code or "-",
            event.description or "",
        )
        if event.fault is not FaultKind.DOOR_JAMMED or event.compartment_code is None:
            return
        session = await tx.doors.live(event.locker_id, event.compartment_code)
        if session is not None:
            await tx.doors.failed(session.id, OpenOutcome.DOOR_JAMMED, event.at)
            await jammed(tx, self._parcels, session)
        else:
            await set_door(tx, event.locker_id, event.compartment_code, door=DoorState.JAMMED)
