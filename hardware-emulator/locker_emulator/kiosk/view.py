"""What the kiosk page shows of one locker: plain data, built from the locker's own state."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from locker_emulator.faults import COMPARTMENT_FAULTS
from locker_emulator.olp_client import EmulatedLocker
from locker_emulator.physics import Compartment, DoorState


class Hand(StrEnum):
    """What a person at an open door has done that the door will report when it is shut."""

    PUT_IN = "put-in"
    TAKE_OUT = "take-out"


# Toggles per compartment, in the order shown, with what the button says.
COMPARTMENT_TOGGLES = (
    ("jammed", "Jam the door"),
    ("stuck_lock", "Stick the lock"),
    ("lying_sensor", "Make the item sensor lie"),
    ("door_left_open", "Door-left-open alarm after 30 s"),
)
DOOR_LEFT_OPEN_SECONDS = 30.0
assert {name for name, _ in COMPARTMENT_TOGGLES} == set(COMPARTMENT_FAULTS)


@dataclass
class Hands:
    """Per locker and compartment, what people at open doors did that the sensor will report.

    The emulator's physics reports an item only when a door is shut (DoorClosed carries the
    sensor reading), so "put the parcel in" and "close the door" are two clicks here and one
    physical action there: the second click performs the deposit or the removal.
    """

    pending: dict[tuple[str, str], Hand] = field(default_factory=dict)

    def get(self, locker: EmulatedLocker, code: str) -> Hand | None:
        """The pending action, forgotten once the door is no longer open (shut elsewhere)."""
        hand = self.pending.get((locker.locker_id, code))
        if hand is not None and locker.compartment(code).door is not DoorState.OPEN:
            del self.pending[(locker.locker_id, code)]
            return None
        return hand

    def set(self, locker: EmulatedLocker, code: str, hand: Hand) -> None:
        self.pending[(locker.locker_id, code)] = hand

    def take(self, locker: EmulatedLocker, code: str) -> Hand | None:
        """The pending action, removed."""
        hand = self.get(locker, code)
        self.pending.pop((locker.locker_id, code), None)
        return hand


def _door_view(locker: EmulatedLocker, comp: Compartment, hands: Hands) -> dict[str, Any]:
    hand = hands.get(locker, comp.code)
    inside = (comp.item_inside or hand is Hand.PUT_IN) and hand is not Hand.TAKE_OUT
    toggles = []
    for name, label in COMPARTMENT_TOGGLES:
        value = getattr(comp.faults, name)
        toggles.append({"name": name, "label": label, "on": value not in (None, False)})
    return {
        "code": comp.code,
        "size": comp.size_class,
        "door": str(comp.door),
        "inside": bool(inside),
        "hand": str(hand) if hand else None,
        "sensor": str(comp.item_sensor),
        "enabled": comp.enabled,
        "purpose": locker.model.purposes.get(comp.code),
        "raised": sorted(str(f) for f in comp.raised),
        "toggles": toggles,
        "can_put_in": comp.door is DoorState.OPEN and not inside,
        "can_take_out": comp.door is DoorState.OPEN and bool(inside),
        "can_close": comp.door is DoorState.OPEN,
    }


def status_of(locker: EmulatedLocker) -> tuple[str, str]:
    """(key, words) for the connection badge."""
    model = locker.model
    if model.offline_until is not None:
        return "offline", "Offline (outage)"
    if model.boot_status == "Rejected":
        return "rejected", f"Boot rejected: {model.rejected_reason or 'no reason given'}"
    if not model.online:
        return "offline", "Offline"
    if model.boot_status != "Accepted":
        return "booting", "Connected, waiting for the gateway to accept its boot"
    return "online", "Online"


def locker_view(locker: EmulatedLocker, hands: Hands) -> dict[str, Any]:
    """Everything the page shows; two equal views render the same page."""
    model = locker.model
    status, status_text = status_of(locker)
    return {
        "id": locker.locker_id,
        "status": status,
        "status_text": status_text,
        "offline_until": model.offline_until.strftime("%H:%M:%S UTC")
        if model.offline_until
        else None,
        "display": dict(model.display) if model.display else None,
        "faults": {
            "slow_replies": model.faults.slow_replies,
            "clock_skew": model.faults.clock_skew,
        },
        "outbox": len(model.outbox),
        "doors": [_door_view(locker, c, hands) for c in model.compartments.values()],
    }
