"""The public adapter SDK: everything a locker vendor's adapter may import from OpenLocker.

An adapter is one class implementing `LockerAdapter`, registered under the entry-point group
`openlocker.adapters`. Nothing else in `gateway` is public; this module keeps its names stable
within OLP v1.
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
    LockerEvent,
    LockerFault,
    OpenOutcome,
    OpenPurpose,
    PresenceChanged,
)
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
    "LockerAdapter",
    "LockerEvent",
    "LockerFault",
    "LockerNotConnected",
    "LockerStatus",
    "OpenOutcome",
    "OpenPurpose",
    "PresenceChanged",
    "SupportsDisplay",
    "available_adapters",
    "load_adapter_class",
]
