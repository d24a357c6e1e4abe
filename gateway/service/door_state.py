"""What a door transition does to compartments and parcels, inside the caller's transaction.

Shared by the unlocks (the locker's answer to our unlock) and the door events (what the
locker reports afterwards): a jam disables the compartment, a close moves the parcel.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from gateway.domain.compartment import Compartment
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
    # One conditional UPDATE; the read that tells "unknown" from "unchanged" only when it
    # wrote nothing (a repeated report), not on every door event.
    if await tx.lockers.set_door(locker_id, code, door=door, item=item):
        return
    if await tx.lockers.compartment(locker_id, code) is None:
        log.warning("locker %s reports unknown compartment %s", locker_id, code)


async def door_reading(
    tx: UnitOfWork,
    locker_id: str,
    code: str,
    *,
    door: DoorState,
    item: ItemSensor | None = None,
) -> tuple[Compartment, Compartment] | None:
    """The compartment as read and as the door leaves it, not written yet (`apply_verdict`
    writes it, with the parcel's effect in the same update); None for an unknown one."""
    before = await tx.lockers.compartment(locker_id, code)
    if before is None:
        log.warning("locker %s reports unknown compartment %s", locker_id, code)
        return None
    return before, replace(before, door=door, item=item if item is not None else before.item)


async def apply_verdict(
    tx: UnitOfWork,
    parcels: ParcelService,
    session: DoorSession,
    verdict: Verdict,
    *,
    reading: tuple[Compartment, Compartment] | None = None,
) -> None:
    """Move the session's parcel as the door's outcome says (nothing for a session without);
    `reading` (from `door_reading`) is written in any case, with the parcel's effect if any."""
    parcel = None
    if verdict.action is None or session.parcel_uid is None:
        log.info("door %s/%s: %s", session.locker_id, session.compartment_code, verdict.reason)
    else:
        parcel = await tx.parcels.get_by_uid(session.parcel_uid, for_update=True)
    if parcel is not None and verdict.action is not None:
        try:
            await parcels.apply_in(
                tx,
                parcel,
                verdict.action,
                fault=verdict.fault,
                details={"doorSession": session.id, "reason": verdict.reason},
                compartment=reading,
            )
            return  # the reading went in with the parcel's effect
        except IllegalTransition as err:
            # The parcel moved on meanwhile (e.g. cancelled): the door event changes nothing.
            log.warning("door event for parcel %s ignored: %s", parcel.parcel_id, err)
    if reading is not None and reading[1] != reading[0]:
        await tx.lockers.save_compartment(*reading)


async def jammed(tx: UnitOfWork, parcels: ParcelService, session: DoorSession) -> None:
    """The door of `session` jammed: its parcel as the jam rules say, the compartment out."""
    await apply_verdict(tx, parcels, session, on_jam(session.purpose))
    compartment = await tx.lockers.compartment(session.locker_id, session.compartment_code)
    if compartment is not None:
        disabled = replace(compartment.disable(), door=DoorState.JAMMED)
        await tx.lockers.save_compartment(compartment, disabled)
