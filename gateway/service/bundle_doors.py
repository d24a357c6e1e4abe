"""Opening every door of a bundle for one accepted code, and what to make of the outcomes.

The doors are opened one after the other through `Unlocks.open_for`, each in its own door
session, so each door's close moves its own parcel (a recipient who leaves one parcel inside
closes that door on it: that parcel stays ready_for_pickup, the others are picked up).
The code is given back only when no door can have opened: one open door spends it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.domain.door import OpenOutcome, OpenPurpose
from gateway.domain.parcel import Parcel
from gateway.errors import OpenLockerError, OperationTimeout
from gateway.service.unlocks import Unlocks

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BundleOpening:
    """How the doors of one bundle code went: compartment codes per outcome."""

    opened: tuple[str, ...]
    unanswered: tuple[str, ...]  # no answer: the door may have opened
    refused: tuple[str, ...]  # the locker or the gateway said the door did not open

    @property
    def spent(self) -> bool:
        """Whether the code is used up: some door opened, or may have."""
        return bool(self.opened or self.unanswered)


async def open_doors(
    unlocks: Unlocks, parcels: Sequence[Parcel], purpose: OpenPurpose, *, actor: str
) -> BundleOpening:
    opened: list[str] = []
    unanswered: list[str] = []
    refused: list[str] = []
    for parcel in parcels:
        door = parcel.compartment_code or "-"
        try:
            result = await unlocks.open_for(parcel, purpose, actor=actor)
        except OperationTimeout as err:
            log.warning(
                "bundle door %s/%s: no answer to the unlock (%s)", parcel.locker_id, door, err
            )
            unanswered.append(door)
            continue
        except OpenLockerError as err:
            log.warning("bundle door %s/%s did not open: %s", parcel.locker_id, door, err)
            refused.append(door)
            continue
        if result.outcome in (OpenOutcome.UNLOCKED, OpenOutcome.ALREADY_OPEN):
            opened.append(door)
        else:
            refused.append(door)
    return BundleOpening(tuple(opened), tuple(unanswered), tuple(refused))
