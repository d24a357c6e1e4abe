"""Wire models of OLP v1 (pydantic, explicit camelCase aliases) and converters from the domain."""

from gateway.wire.base import UtcDateTime, WireModel, dump
from gateway.wire.catalog import LIBRARY_SCHEMAS, SCHEMA_MODELS
from gateway.wire.common import DimensionsMm, InsideMm
from gateway.wire.envelope import Envelope, EnvelopeError, MessageKind
from gateway.wire.health import HealthOut, ReadinessOut
from gateway.wire.lockers import (
    CompartmentOut,
    LocationOut,
    LockerListOut,
    LockerOut,
    SizeAvailabilityOut,
    compartment_to_wire,
    locker_to_wire,
)
from gateway.wire.parcels import (
    ParcelEventListOut,
    ParcelEventOut,
    ParcelListOut,
    ParcelOut,
    RequestedOut,
    event_to_wire,
    parcel_to_wire,
    requested_to_wire,
)
from gateway.wire.problem import (
    HTTP_STATUS,
    PROBLEM_MEDIA_TYPE,
    FieldIssueOut,
    ProblemOut,
    problem_from_error,
    problem_title,
    problem_type,
)
from gateway.wire.requests import (
    CancelParcelIn,
    CreateParcelIn,
    ExtendParcelIn,
    RedirectParcelIn,
    ReserveParcelIn,
)

__all__ = [
    "HTTP_STATUS",
    "LIBRARY_SCHEMAS",
    "PROBLEM_MEDIA_TYPE",
    "SCHEMA_MODELS",
    "CancelParcelIn",
    "CompartmentOut",
    "CreateParcelIn",
    "DimensionsMm",
    "Envelope",
    "EnvelopeError",
    "ExtendParcelIn",
    "FieldIssueOut",
    "HealthOut",
    "InsideMm",
    "LocationOut",
    "LockerListOut",
    "LockerOut",
    "MessageKind",
    "ParcelEventListOut",
    "ParcelEventOut",
    "ParcelListOut",
    "ParcelOut",
    "ProblemOut",
    "ReadinessOut",
    "RedirectParcelIn",
    "RequestedOut",
    "ReserveParcelIn",
    "SizeAvailabilityOut",
    "UtcDateTime",
    "WireModel",
    "compartment_to_wire",
    "dump",
    "event_to_wire",
    "locker_to_wire",
    "parcel_to_wire",
    "problem_from_error",
    "problem_title",
    "problem_type",
    "requested_to_wire",
]
