"""Nothing goes into a compartment whose temperature is out of range: the cold chain is kept.

A temperature alarm (gateway/service/temperature.py) stops new bookings into the door, but a
parcel reserved there before the alarm would still be put in by whoever opens the door for
the deposit: a carrier's remote open, a parcel's keypad code, the next door of a courier
session. Each of them calls `move_off_alarm` in the transaction that starts the door session:
the reservation moves to another free compartment that meets the parcel's requirements (the
booking's own allocation, soft holds included), or the deposit is refused with 409
CompartmentAlarmed and nothing opens.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from gateway.domain.compartment import Compartment, CompartmentEffect
from gateway.domain.door import OpenPurpose
from gateway.domain.parcel import Parcel
from gateway.errors import CompartmentAlarmed, NoCompartmentAvailable
from gateway.service.holds import allocate_compartment
from gateway.service.out_of_service import INTO
from gateway.store import UnitOfWork

log = logging.getLogger(__name__)


async def move_off_alarm(
    tx: UnitOfWork,
    parcel: Parcel,
    purpose: OpenPurpose,
    now: datetime,
    *,
    door: Compartment | None = None,
) -> Parcel:
    """`parcel` as it stands after its deposit was made safe, in `tx`: unchanged unless
    `purpose` puts it into a compartment with an active temperature alarm; then moved to
    another free compartment meeting its requirements (returned with the new code), else
    CompartmentAlarmed. `door`: that compartment as already read in `tx` (`deposit_door`),
    not read again."""
    if purpose not in INTO or parcel.compartment_code is None:
        return parcel
    if door is None:
        door = await tx.lockers.compartment(parcel.locker_id, parcel.compartment_code)
    if door is None or not door.temperature_alarm:
        return parcel
    try:
        moved = await allocate_compartment(tx, parcel.locker_id, parcel.need, parcel.uid, now)
    except NoCompartmentAvailable as full:
        reading = door.reading.celsius if door.reading is not None else None
        raise CompartmentAlarmed(
            f"compartment {door.code} of locker {parcel.locker_id} is out of its "
            f"{door.temperature} temperature range and no other free compartment meets the "
            f"parcel's requirements: nothing goes in until the alarm clears",
            details={
                "lockerId": parcel.locker_id,
                "compartmentCode": door.code,
                "temperatureClass": str(door.temperature),
                "celsius": reading,
            },
        ) from full
    if door.parcel_uid == parcel.uid:
        await tx.lockers.save_compartment(door, door.apply(CompartmentEffect.RELEASE, parcel.uid))
    after = await tx.parcels.update(parcel, replace(parcel, compartment_code=moved.code))
    log.warning(
        "parcel %s: compartment %s of locker %s is out of its temperature range; its deposit "
        "moved to %s",
        parcel.parcel_id,
        door.code,
        parcel.locker_id,
        moved.code,
    )
    return after
