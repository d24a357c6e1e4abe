"""A pickup's age/identity check reaches the locker's screen with the unlock, if it can show it.

A parcel whose delivery requirements ask for a pickup check (domain/requirements.py) opens
through `SupportsPickupCheck.open_with_check` (OLP: OpenCompartment with `pickupCheck`) when
the locker's adapter declares PICKUP_CHECK. A locker that cannot show it still opens: a bare
lock board has no screen, and refusing would strand the parcel; the gateway logs a warning, so
an operator can route such parcels to staffed lockers (ROADMAP).
"""

from __future__ import annotations

import logging

from gateway.domain.door import DoorSession, OpenOutcome, OpenPurpose
from gateway.domain.parcel import Parcel
from gateway.domain.requirements import PickupCheck
from gateway.sdk import AdapterFeatures, LockerAdapter, SupportsPickupCheck

log = logging.getLogger(__name__)


def check_for(parcel: Parcel, purpose: OpenPurpose) -> PickupCheck | None:
    """The check an opening of `parcel` for `purpose` must show: pickups only."""
    if purpose is not OpenPurpose.PICKUP:
        return None
    return parcel.need.requirements.pickup_check


async def open_door(
    adapter: LockerAdapter, session: DoorSession, check: PickupCheck | None
) -> OpenOutcome:
    """The adapter's unlock for `session`, with `check` when there is one to show."""
    if check is not None and session.purpose is OpenPurpose.PICKUP:
        if AdapterFeatures.PICKUP_CHECK in adapter.features and isinstance(
            adapter, SupportsPickupCheck
        ):
            return await adapter.open_with_check(
                session.locker_id,
                session.compartment_code,
                check=check,
                deadline=session.deadline,
            )
        log.warning(
            "locker %s cannot show the pickup check of door session %d (%s); the door opens "
            "without it",
            session.locker_id,
            session.id,
            check.to_json(),
        )
    return await adapter.open_compartment(
        session.locker_id,
        session.compartment_code,
        purpose=session.purpose,
        deadline=session.deadline,
    )
