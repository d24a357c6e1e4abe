"""What lockers report, as typed events every adapter emits in the same shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateway.domain.door import FaultKind, OpenOutcome, OpenPurpose
from gateway.domain.enums import ItemSensor


@dataclass(frozen=True, slots=True, kw_only=True)
class _Event:
    """Common fields: which locker, when the locker says it happened, and a dedupe id."""

    locker_id: str
    at: datetime
    event_id: str
    seq: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorOpened(_Event):
    compartment_code: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorClosed(_Event):
    compartment_code: str
    item: ItemSensor


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeEntered(_Event):
    """A keypad code; the gateway decides, the adapter never checks codes itself."""

    code: str
    compartment_code: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LockerFault(_Event):
    fault: FaultKind
    compartment_code: str | None = None
    description: str | None = None
    cleared: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PresenceChanged(_Event):
    online: bool
    details: dict[str, str] = field(default_factory=dict)


__all__ = [
    "CodeEntered",
    "DoorClosed",
    "DoorOpened",
    "FaultKind",
    "LockerEvent",
    "LockerFault",
    "OpenOutcome",
    "OpenPurpose",
    "PresenceChanged",
]

LockerEvent = DoorOpened | DoorClosed | CodeEntered | LockerFault | PresenceChanged
