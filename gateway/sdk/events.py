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
    # The locker's journal number (OLP `eventSeq`): events are applied in this order, once.
    event_seq: int | None = None


@dataclass(frozen=True, slots=True)
class GrantUse:
    """The access grant a locker verified offline to open a door (DoorOpened's `grant`)."""

    jti: str
    purpose: OpenPurpose  # the grant's `act`
    parcel_uid: str  # the grant's `sub`


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorOpened(_Event):
    """A door physically opened; emitted when the hardware reports it, before its DoorClosed."""

    compartment_code: str
    grant: GrantUse | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorClosed(_Event):
    """A door was shut; `item` is what the item sensor says (unknown without one)."""

    compartment_code: str
    item: ItemSensor


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeEntered(_Event):
    """A keypad code; the gateway decides, the adapter never checks codes itself."""

    code: str
    compartment_code: str | None = None
    # The parcel label the locker scanned with a drop-off code (a return without a label).
    label: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LockerFault(_Event):
    """A hardware fault appeared, or (`cleared`) went away."""

    fault: FaultKind
    compartment_code: str | None = None
    description: str | None = None
    cleared: bool = False
    temperature_c: float | None = None  # TemperatureOutOfRange: the reading, degrees Celsius


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalReported(_Event):
    """The newest journaled event a locker has sent (from Boot or Heartbeat): the gateway asks
    for a replay when it has processed less, e.g. an event lost between PUBACK and commit."""

    last_event_seq: int
    at_boot: bool = False
    # False: not a Boot or Heartbeat received just now but the adapter's own report, after an
    # overload, of journaled events its lane refused (`LockerLanes` catch-up): `at` is no
    # sample of the locker's clock, and the replay is asked at once (the lane is empty: no
    # event queued behind a gap will ask again).
    live: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySetRefused(_Event):
    """The locker refused a key set's signature (SPEC §9 "Signed key sets") in answer to a
    SetKeySet this gateway never sent: someone forged one in its name. A security event
    (audited); the locker kept its keys. `event_id` is the locker's reply id."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PresenceChanged(_Event):
    """The locker became reachable or unreachable; going offline ends its boot session."""

    online: bool
    details: dict[str, str] = field(default_factory=dict)


__all__ = [
    "CodeEntered",
    "DoorClosed",
    "DoorOpened",
    "FaultKind",
    "GrantUse",
    "JournalReported",
    "KeySetRefused",
    "LockerEvent",
    "LockerFault",
    "OpenOutcome",
    "OpenPurpose",
    "PresenceChanged",
]

LockerEvent = (
    DoorOpened
    | DoorClosed
    | CodeEntered
    | LockerFault
    | PresenceChanged
    | JournalReported
    | KeySetRefused
)
