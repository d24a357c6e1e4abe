"""Nothing goes into a compartment the gateway holds out of service, whoever asks."""

from __future__ import annotations

from gateway.domain.compartment import Compartment
from gateway.domain.door import OpenPurpose
from gateway.domain.enums import CompartmentState
from gateway.domain.parcel import Parcel
from gateway.errors import IllegalTransition
from gateway.store import UnitOfWork

# Purposes that put something into the compartment; taking a parcel out stays possible.
INTO = frozenset({OpenPurpose.DEPOSIT, OpenPurpose.DROPOFF})


async def refuse_into_out_of_service(
    tx: UnitOfWork, parcel: Parcel, purpose: OpenPurpose
) -> Compartment | None:
    """IllegalTransition if `purpose` puts the parcel into a compartment out of service; else
    the compartment as read (`deposit_door`), for the deposit's next check (`move_off_alarm`).

    For what the carrier asks for (a remote open, an offline grant): the locker's Unlock opens
    whatever it is told (a board's too), and the locker may never have been told that the
    compartment is unavailable (offline, or its SetAvailability unanswered). Taking a parcel
    out stays possible; an operator's open is not refused (inspection).
    """
    door = await deposit_door(tx, parcel, purpose)
    if held_out(door):
        raise IllegalTransition(
            f"compartment {parcel.compartment_code} is out of service: nothing goes in",
            details={"state": str(parcel.state), "compartmentCode": parcel.compartment_code},
        )
    return door


async def into_out_of_service(tx: UnitOfWork, parcel: Parcel, purpose: OpenPurpose) -> bool:
    """Whether `purpose` puts the parcel into a compartment out of service (the keypad, a
    courier round and a bundle code skip or refuse it without raising)."""
    return held_out(await deposit_door(tx, parcel, purpose))


async def deposit_door(tx: UnitOfWork, parcel: Parcel, purpose: OpenPurpose) -> Compartment | None:
    """The compartment `purpose` puts the parcel into, read once in `tx` for the deposit's
    checks (out of service here, the temperature alarm in alarmed_doors.py); None when the
    opening puts nothing in, or the compartment is unknown."""
    if purpose not in INTO or parcel.compartment_code is None:
        return None
    return await tx.lockers.compartment(parcel.locker_id, parcel.compartment_code)


def held_out(door: Compartment | None) -> bool:
    return door is not None and door.state is CompartmentState.OUT_OF_SERVICE
