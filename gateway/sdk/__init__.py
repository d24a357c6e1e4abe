"""The public adapter SDK: everything a locker vendor's adapter may import from OpenLocker.

An adapter is one class implementing `LockerAdapter`, registered under the entry-point group
`openlocker.adapters`. Nothing else in `gateway` is public; this module keeps its names stable
within OLP v1. `gateway.sdk.testing` is the conformance kit every adapter passes; the guide is
docs/adapters/GUIDE.md, which names every export below (a test keeps the two in step).

What is here, by concern:
- the contract: `LockerAdapter`, `AdapterFeatures`, `AdapterConfig`, `AdapterHost` and what
  they exchange (`BootInfo`, `BootDecision`, `BootStatus`, `CompartmentInfo`, `LockerStatus`),
  the optional `SupportsDisplay`, `SupportsAvailability`, `SupportsKeySet` (with `KeySet`),
  `SupportsEventReplay` (with `ReplayReport`), `SupportsDropCounts` (for /metrics) and
  `SupportsPickupCheck` (with `PickupCheck`: a pickup's age/identity check on the screen);
- events and their vocabulary (`LockerEvent` and its kinds, `OpenOutcome`, `DoorState`...);
- errors: `OpenLockerError` and the adapter errors derived from it;
- running: `LockerLanes` (one ordered, bounded lane per locker, for `host.locker_event`),
  `TaskSet` and `background` (the one way to run background work), `backoff_s` (the one
  back-off formula);
- boards that must be polled: `SerialBus`, `PollTracker`, `PolledLocker`, `BoardEvents`...;
- registration: `ENTRY_POINT_GROUP`, `available_adapters`, `load_adapter_class`.

Helpers only the built-in adapters need stay in their modules (`gateway.sdk.errors` for the
wire error details of OLP, `gateway.sdk.mqtt`, `gateway.sdk.olp`).
"""

from gateway.domain.backoff import backoff_s
from gateway.sdk.adapter import (
    AdapterConfig,
    AdapterFeatures,
    AdapterHost,
    BootDecision,
    BootInfo,
    BootStatus,
    CompartmentInfo,
    LockerAdapter,
    LockerStatus,
    SupportsAvailability,
    SupportsDisplay,
    SupportsDropCounts,
    SupportsPickupCheck,
)
from gateway.sdk.boards import BoardEvents, PolledLocker, poll_forever, seconds_left
from gateway.sdk.domain import DoorState, ItemSensor, PickupCheck, SizeClass
from gateway.sdk.errors import (
    AdapterConfigError,
    AdapterConnectionError,
    AdapterError,
    AdapterProtocolError,
    AdapterTimeout,
    LockerNotConnected,
    OpenLockerError,
)
from gateway.sdk.events import (
    CodeEntered,
    DoorClosed,
    DoorOpened,
    FaultKind,
    GrantUse,
    JournalReported,
    KeySetRefused,
    LockerEvent,
    LockerFault,
    OpenOutcome,
    OpenPurpose,
    PresenceChanged,
)
from gateway.sdk.journal import ReplayReport, SupportsEventReplay
from gateway.sdk.keys import KeySet, SupportsKeySet
from gateway.sdk.lanes import LaneStats, LockerLanes
from gateway.sdk.lifetime import TaskSet, background
from gateway.sdk.polling import DoorReading, PollTracker, unpack_bits
from gateway.sdk.registry import ENTRY_POINT_GROUP, available_adapters, load_adapter_class
from gateway.sdk.serial import ReplyReader, SerialBus, SerialSettings

__all__ = [
    "ENTRY_POINT_GROUP",
    "AdapterConfig",
    "AdapterConfigError",
    "AdapterConnectionError",
    "AdapterError",
    "AdapterFeatures",
    "AdapterHost",
    "AdapterProtocolError",
    "AdapterTimeout",
    "BoardEvents",
    "BootDecision",
    "BootInfo",
    "BootStatus",
    "CodeEntered",
    "CompartmentInfo",
    "DoorClosed",
    "DoorOpened",
    "DoorReading",
    "DoorState",
    "FaultKind",
    "GrantUse",
    "ItemSensor",
    "JournalReported",
    "KeySet",
    "KeySetRefused",
    "LaneStats",
    "LockerAdapter",
    "LockerEvent",
    "LockerFault",
    "LockerLanes",
    "LockerNotConnected",
    "LockerStatus",
    "OpenLockerError",
    "OpenOutcome",
    "OpenPurpose",
    "PickupCheck",
    "PollTracker",
    "PolledLocker",
    "PresenceChanged",
    "ReplayReport",
    "ReplyReader",
    "SerialBus",
    "SerialSettings",
    "SizeClass",
    "SupportsAvailability",
    "SupportsDisplay",
    "SupportsDropCounts",
    "SupportsEventReplay",
    "SupportsKeySet",
    "SupportsPickupCheck",
    "TaskSet",
    "available_adapters",
    "background",
    "backoff_s",
    "load_adapter_class",
    "poll_forever",
    "seconds_left",
    "unpack_bits",
]
