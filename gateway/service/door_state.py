"""What a door transition does to compartments and parcels, inside the caller's transaction.

Shared by the unlocks (the locker's answer to our unlock) and the door events (what the
locker reports afterwards): a jam disables the compartment, a close moves the parcel.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from gateway.domain.door import DoorSession, Verdict, on_jam
from gateway.domain.enums import DoorState, ItemSensor
from gateway.errors import IllegalTransition
from gateway.service.parcels import ParcelService
from gateway.store import UnitOfWork

log = logging.getLogger(__name__)


async def set_door(
    tx: UnitOfWork,
    locker_id: str,
    code: str,
    *,
    door: DoorState,
    item: ItemSensor | None = None,
) -> None:
    before = await tx.lockers.compartment(locker_id, code)
    if before is None:
        log.warning("locker %s reports unknown compartment %s", locker_id, code)
        return
    after = replace(before, door=door, item=item if item is not None else before.item)
    if after != before:
        await tx.lockers.save_compartment(before, after)


async def apply_verdict(
    tx: UnitOfWork, parcels: ParcelService, session: DoorSession, verdict: Verdict
) -> None:
    """Move the session's parcel as the door's outcome says (nothing for a session without)."""
    if verdict.action is None or session.parcel_uid is None:
        log.info("door %s/%s: %s", session.locker_id, session.compartment_code, verdict.reason)
        return
    parcel = await tx.parcels.get_by_uid(session.parcel_uid, for_update=True)
    if parcel is None:
        return
    try:
        await parcels.apply_in(
            tx,
            parcel,
            verdict.action,
            fault=verdict.fault,
            details={"doorSession": session.id, "reason": verdict.reason},
        )
    except IllegalTransition as err:
        # The parcel moved on meanwhile (e.g. cancelled): the door event changes nothing.
        log.warning("door event for parcel %s ignored: %s", parcel.parcel_id, err)


async def jammed(tx: UnitOfWork, parcels: ParcelService, session: DoorSession) -> None:
    """The door of `session` jammed: its parcel as the jam rules say, the compartment out."""
    await apply_verdict(tx, parcels, session, on_jam(session.purpose))
    compartment = await tx.lockers.compartment(session.locker_id, session.compartment_code)
    if compartment is not None:
        disabled = replace(compartment.disable(), door=DoorState.JAMMED)
        await tx.lockers.save_compartment(compartment, disabled)
