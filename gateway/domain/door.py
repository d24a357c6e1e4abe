"""Door sessions: an unlock the gateway ordered, and what its closing means for the parcel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gateway.domain.enums import ItemSensor, ParcelAction, ParcelState
from gateway.domain.requirements import PickupCheck


class OpenPurpose(StrEnum):
    DEPOSIT = "deposit"
    PICKUP = "pickup"
    COLLECT = "collect"
    DROPOFF = "dropoff"
    SERVICE = "service"


class OpenOutcome(StrEnum):
    """The physical result of an unlock: a business outcome, not a protocol error."""

    UNLOCKED = "Unlocked"
    UNLOCK_FAILED = "UnlockFailed"
    DOOR_JAMMED = "DoorJammed"
    ALREADY_OPEN = "AlreadyOpen"


class FaultKind(StrEnum):
    DOOR_JAMMED = "DoorJammed"
    DOOR_LEFT_OPEN = "DoorLeftOpen"
    SENSOR_FAULT = "SensorFault"
    LOCK_FAULT = "LockFault"
    POWER_LOSS = "PowerLoss"
    TEMPERATURE_OUT_OF_RANGE = "TemperatureOutOfRange"


class DoorSessionState(StrEnum):
    REQUESTED = "requested"  # command sent, outcome not known yet
    OPEN = "open"  # unlocked (or door reported open)
    CLOSED = "closed"  # door shut again; the parcel has moved on
    FAILED = "failed"  # unlock failed, jammed, or no answer before the deadline


# Which door opening a parcel's state calls for, when a code is entered or a carrier asks.
PURPOSE_FOR_STATE: dict[ParcelState, OpenPurpose] = {
    ParcelState.RESERVED: OpenPurpose.DEPOSIT,
    ParcelState.DROPOFF_ANNOUNCED: OpenPurpose.DROPOFF,
    ParcelState.READY_FOR_PICKUP: OpenPurpose.PICKUP,
    ParcelState.EXPIRED: OpenPurpose.COLLECT,
    ParcelState.REDIRECTED: OpenPurpose.COLLECT,
    ParcelState.DROPPED_OFF: OpenPurpose.COLLECT,
    ParcelState.PICKUP_FAILED: OpenPurpose.COLLECT,
}


@dataclass(frozen=True, slots=True)
class DoorSession:
    id: int
    locker_id: str
    compartment_code: str
    parcel_uid: str | None
    purpose: OpenPurpose
    state: DoorSessionState
    requested_at: datetime
    deadline: datetime
    outcome: OpenOutcome | None = None
    item: ItemSensor | None = None
    opened_at: datetime | None = None
    closed_at: datetime | None = None
    # Not stored: the pickup check to show with this session's unlock, set where it starts.
    pickup_check: PickupCheck | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The parcel action a door event calls for (None: nothing happens to the parcel)."""

    action: ParcelAction | None
    fault: bool = False
    reason: str = ""


def on_close(purpose: OpenPurpose, item: ItemSensor) -> Verdict:
    """What a closed door means. A locker without an item sensor (unknown) is trusted to have
    done what was asked: the courier deposited, the recipient took the parcel."""
    if purpose in (OpenPurpose.DEPOSIT, OpenPurpose.DROPOFF):
        if item is ItemSensor.ABSENT:
            return Verdict(ParcelAction.FAIL_DEPOSIT, reason="door closed with no item inside")
        action = ParcelAction.DEPOSIT if purpose is OpenPurpose.DEPOSIT else ParcelAction.DROP_OFF
        return Verdict(action, reason=f"door closed, item {item}")
    if purpose in (OpenPurpose.PICKUP, OpenPurpose.COLLECT):
        if item is ItemSensor.PRESENT:
            return Verdict(None, reason="door closed with the parcel still inside")
        action = ParcelAction.PICK_UP if purpose is OpenPurpose.PICKUP else ParcelAction.COLLECT
        return Verdict(action, reason=f"door closed, item {item}")
    return Verdict(None, reason="service opening")


def on_jam(purpose: OpenPurpose) -> Verdict:
    """A jammed door: the parcel's deposit or pickup failed and the compartment is taken out
    of service; a collection or service opening leaves the parcel as it is."""
    if purpose in (OpenPurpose.DEPOSIT, OpenPurpose.DROPOFF):
        return Verdict(ParcelAction.FAIL_DEPOSIT, fault=True, reason="door jammed")
    if purpose is OpenPurpose.PICKUP:
        return Verdict(ParcelAction.FAIL_PICKUP, fault=True, reason="door jammed")
    return Verdict(None, fault=True, reason="door jammed")
