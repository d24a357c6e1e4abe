"""Returns without a label: a return's record, its id, and the rules for binding its label."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gateway.domain.enums import ParcelState

# The return id is also the parcel's id until a label is bound: it fits common.json ParcelId
# and can never look like a UPU S10 id (those start with two letters and nine digits).
RETURN_ID_PREFIX = "ret_"
RETURN_ID_PATTERN = re.compile(r"^ret_[a-z2-7]{20}$")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # base32, lower case: read aloud without doubt

# The parcel states in which a label may still be bound: the sender has not dropped it off
# yet (the locker's scanner binds it at the keypad) or it waits in the locker for the courier.
LABEL_BINDABLE = frozenset({ParcelState.DROPOFF_ANNOUNCED, ParcelState.DROPPED_OFF})


class LabelSource(StrEnum):
    """Who bound the label: the locker (scanned at drop-off) or the carrier's courier."""

    LOCKER = "locker"
    COURIER = "courier"


class ReturnState(StrEnum):
    """A return as the shop sees it, read from its parcel's state."""

    AWAITING_DROPOFF = "awaiting_dropoff"
    DROPPED_OFF = "dropped_off"
    COLLECTED = "collected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


_STATE_OF_PARCEL = {
    ParcelState.DROPOFF_ANNOUNCED: ReturnState.AWAITING_DROPOFF,
    # A failed drop-off (door closed empty) is booked again by the carrier's reserve: waiting.
    ParcelState.DEPOSIT_FAILED: ReturnState.AWAITING_DROPOFF,
    ParcelState.DROPPED_OFF: ReturnState.DROPPED_OFF,
    ParcelState.COLLECTED: ReturnState.COLLECTED,
    ParcelState.RETURNED: ReturnState.COLLECTED,
    ParcelState.CANCELLED: ReturnState.CANCELLED,
    ParcelState.RESERVATION_EXPIRED: ReturnState.EXPIRED,
}


def return_state(parcel_state: ParcelState) -> ReturnState:
    """The return's state for its parcel's; a first-mile parcel reaches no other state."""
    return _STATE_OF_PARCEL[parcel_state]


def new_return_id() -> str:
    return RETURN_ID_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(20))


@dataclass(frozen=True, slots=True)
class Return:
    """One announced return. `label` is the carrier's parcel id once bound (None before)."""

    id: str
    carrier_id: str
    locker_id: str
    parcel_uid: str
    reference: str
    created_at: datetime
    label: str | None = None
    label_source: LabelSource | None = None
    label_bound_at: datetime | None = None

    @property
    def parcel_id(self) -> str:
        """The parcel's id today: the label once bound, the return id before."""
        return self.label or self.id

    def bound(self, label: str, source: LabelSource, at: datetime) -> Return:
        return Return(
            id=self.id,
            carrier_id=self.carrier_id,
            locker_id=self.locker_id,
            parcel_uid=self.parcel_uid,
            reference=self.reference,
            created_at=self.created_at,
            label=label,
            label_source=source,
            label_bound_at=at,
        )
