"""Nothing goes into a compartment the gateway holds out of service, whoever asks."""

from __future__ import annotations

from gateway.domain.door import OpenPurpose
from gateway.domain.enums import CompartmentState
from gateway.domain.parcel import Parcel
from gateway.errors import IllegalTransition
from gateway.store import UnitOfWork

# Purposes that put something into the compartment (the keypad's rule too, keypad.py).
INTO = frozenset({OpenPurpose.DEPOSIT, OpenPurpose.DROPOFF})


async def refuse_into_out_of_service(tx: UnitOfWork, parcel: Parcel, purpose: OpenPurpose) -> None:
    """IllegalTransition if `purpose` puts the parcel into a compartment out of service.

    For what the carrier asks for (a remote open, an offline grant): the locker's Unlock opens
    whatever it is told (a board's too), and the locker may never have been told that the
    compartment is unavailable (offline, or its SetAvailability unanswered). Taking a parcel
    out stays possible; an operator's open is not refused (inspection).
    """
    if purpose not in INTO or parcel.compartment_code is None:
        return
    compartment = await tx.lockers.compartment(parcel.locker_id, parcel.compartment_code)
    if compartment is not None and compartment.state is CompartmentState.OUT_OF_SERVICE:
        raise IllegalTransition(
            f"compartment {parcel.compartment_code} is out of service: nothing goes in",
            details={"state": str(parcel.state), "compartmentCode": parcel.compartment_code},
        )
