"""Which wire model carries which schema of schemas/v1 (drift tests and transports use it)."""

from __future__ import annotations

from types import MappingProxyType

from gateway.wire.base import WireModel
from gateway.wire.envelope import Envelope
from gateway.wire.health import HealthOut, ReadinessOut
from gateway.wire.lockers import (
    CompartmentOut,
    LocationOut,
    LockerListOut,
    LockerOut,
    SizeAvailabilityOut,
)
from gateway.wire.parcels import ParcelEventListOut, ParcelEventOut, ParcelListOut, ParcelOut
from gateway.wire.problem import ProblemOut
from gateway.wire.requests import (
    CancelParcelIn,
    CreateParcelIn,
    ExtendParcelIn,
    RedirectParcelIn,
    ReserveParcelIn,
)

SCHEMA_MODELS: MappingProxyType[str, type[WireModel]] = MappingProxyType(
    {
        "envelope": Envelope,
        "problem": ProblemOut,
        "location": LocationOut,
        "size-availability": SizeAvailabilityOut,
        "locker": LockerOut,
        "locker-list": LockerListOut,
        "compartment": CompartmentOut,
        "parcel": ParcelOut,
        "parcel-list": ParcelListOut,
        "parcel-event": ParcelEventOut,
        "parcel-event-list": ParcelEventListOut,
        "create-parcel-request": CreateParcelIn,
        "reserve-parcel-request": ReserveParcelIn,
        "cancel-parcel-request": CancelParcelIn,
        "extend-parcel-request": ExtendParcelIn,
        "redirect-parcel-request": RedirectParcelIn,
        "health": HealthOut,
        "readiness": ReadinessOut,
    }
)
# Schema files that only hold shared definitions or a bare enum, with no model of their own.
LIBRARY_SCHEMAS = frozenset({"common", "lifecycle", "error-code"})
