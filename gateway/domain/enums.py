"""Wire values of the lifecycle, as published in schemas/v1/lifecycle.json."""

from __future__ import annotations

from enum import StrEnum


class ParcelState(StrEnum):
    ANNOUNCED = "announced"
    RESERVED = "reserved"
    RESERVATION_EXPIRED = "reservation_expired"
    CANCELLED = "cancelled"
    DEPOSIT_FAILED = "deposit_failed"
    READY_FOR_PICKUP = "ready_for_pickup"
    PICKED_UP = "picked_up"
    PICKUP_FAILED = "pickup_failed"
    EXPIRED = "expired"
    COLLECTED = "collected"
    RETURNED = "returned"
    DROPOFF_ANNOUNCED = "dropoff_announced"
    DROPPED_OFF = "dropped_off"
    REDIRECTED = "redirected"


class ParcelAction(StrEnum):
    """What happens to a parcel; each legal (state, action) pair is one transition."""

    RESERVE = "reserve"
    CANCEL = "cancel"
    EXPIRE_RESERVATION = "expire_reservation"
    DEPOSIT = "deposit"
    FAIL_DEPOSIT = "fail_deposit"
    PICK_UP = "pick_up"
    FAIL_PICKUP = "fail_pickup"
    EXTEND = "extend"
    EXPIRE = "expire"
    COLLECT = "collect"
    RETURN = "return"
    DROP_OFF = "drop_off"
    REDIRECT = "redirect"


class Direction(StrEnum):
    """Last mile: carrier to recipient. First mile: sender drops off, courier collects."""

    LAST_MILE = "last_mile"
    FIRST_MILE = "first_mile"


class CompartmentState(StrEnum):
    AVAILABLE = "available"
    RESERVED = "reserved"
    OCCUPIED = "occupied"
    OUT_OF_SERVICE = "out_of_service"


class DoorState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    JAMMED = "jammed"


class ItemSensor(StrEnum):
    PRESENT = "present"
    ABSENT = "absent"
    UNKNOWN = "unknown"


class SizeClass(StrEnum):
    XS = "XS"
    S = "S"
    M = "M"
    L = "L"
    XL = "XL"

    @property
    def rank(self) -> int:
        """0 for XS up to 4 for XL: the order in which compartments are offered."""
        return _SIZE_RANK[self]


# Computed once: `rank` sits on the allocation hot path.
_SIZE_RANK = {size: index for index, size in enumerate(SizeClass)}
