"""The public adapter SDK: everything a locker vendor's adapter may import from OpenLocker.

An adapter is one class implementing `LockerAdapter`, registered under the entry-point group
`openlocker.adapters`. Nothing else in `gateway` is public; this module keeps its names stable
within OLP v1. `gateway.sdk.testing` is the conformance kit every adapter passes; the guide is
docs/adapters/GUIDE.md.
"""

from gateway.sdk.adapter import (
    AdapterConfig,
    AdapterFeatures,
    AdapterHost,
    BootDecision,
    BootInfo,
    CompartmentInfo,
    LockerAdapter,
    LockerStatus,
    SupportsDisplay,
)
from gateway.sdk.errors import (
    AdapterConfigError,
    AdapterConnectionError,
    AdapterError,
    AdapterProtocolError,
    AdapterTimeout,
    LockerNotConnected,
)
from gateway.sdk.events import (
    CodeEntered,
    DoorClosed,
    DoorOpened,
    FaultKind,
    GrantUse,
    JournalReported,
    LockerEvent,
    LockerFault,
    OpenOutcome,
    OpenPurpose,
    PresenceChanged,
)
from gateway.sdk.journal import ReplayReport, SupportsEventReplay
from gateway.sdk.lanes import LaneStats, LockerLanes
from gateway.sdk.lifetime import TaskSet, background
from gateway.sdk.registry import ENTRY_POINT_GROUP, available_adapters, load_adapter_class
from gateway.wire.olp_enums import BootStatus

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
    "BootDecision",
    "BootInfo",
    "BootStatus",
    "CodeEntered",
    "CompartmentInfo",
    "DoorClosed",
    "DoorOpened",
    "FaultKind",
    "GrantUse",
    "JournalReported",
    "LaneStats",
    "LockerAdapter",
    "LockerEvent",
    "LockerFault",
    "LockerLanes",
    "LockerNotConnected",
    "LockerStatus",
    "OpenOutcome",
    "OpenPurpose",
    "PresenceChanged",
    "ReplayReport",
    "SupportsDisplay",
    "SupportsEventReplay",
    "TaskSet",
    "available_adapters",
    "background",
    "load_adapter_class",
]
