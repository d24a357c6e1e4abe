"""One error hierarchy for the whole gateway; each error carries its OLP wire code.

Transports map these to HTTP (RFC 9457 problem+json) or to OLP `error` replies exactly once;
foreign exceptions are translated at the boundary with `raise ... from err`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    """Wire error codes of OLP v1, shared by HTTP and MQTT (see schemas/v1/SPEC.md)."""

    FORMAT_VIOLATION = "FormatViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    PAYLOAD_TOO_LARGE = "PayloadTooLarge"
    UNSUPPORTED_MEDIA_TYPE = "UnsupportedMediaType"
    SECURITY_ERROR = "SecurityError"
    FORBIDDEN = "Forbidden"
    NOT_FOUND = "NotFound"
    METHOD_NOT_ALLOWED = "MethodNotAllowed"
    ILLEGAL_TRANSITION = "IllegalTransition"
    NO_COMPARTMENT_AVAILABLE = "NoCompartmentAvailable"
    REQUIREMENT_NOT_MET = "RequirementNotMet"
    COMPARTMENT_ALARMED = "CompartmentAlarmed"
    HOLD_NOT_ACTIVE = "HoldNotActive"
    BUNDLE_OVER_CAPACITY = "BundleOverCapacity"
    ALREADY_EXISTS = "AlreadyExists"
    IDEMPOTENCY_KEY_MISSING = "IdempotencyKeyMissing"
    IDEMPOTENCY_CONFLICT = "IdempotencyConflict"
    NOT_SUPPORTED = "NotSupported"
    TIMEOUT = "Timeout"
    UNAVAILABLE = "Unavailable"
    INTERNAL_ERROR = "InternalError"


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One offending field: a JSON pointer (RFC 6901) into the request and what is wrong."""

    pointer: str
    detail: str


@dataclass(eq=False)
class OpenLockerError(Exception):
    """Base of every error the gateway raises on purpose."""

    description: str
    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    issues: tuple[FieldIssue, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.description)

    def __str__(self) -> str:
        return f"{self.code}: {self.description}"


class ValidationFailed(OpenLockerError):
    """A message does not match its schema or breaks a field constraint."""

    def __init__(
        self,
        description: str,
        *,
        issues: tuple[FieldIssue, ...] = (),
        code: ErrorCode = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description, code, issues, details or {})


class _Simple(OpenLockerError):
    """An error whose wire code is fixed by its class."""

    wire_code = ErrorCode.INTERNAL_ERROR

    def __init__(self, description: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(description, self.wire_code, (), details or {})


class MalformedMessage(_Simple):
    """The body is not parseable JSON (or not the media type announced)."""

    wire_code = ErrorCode.FORMAT_VIOLATION


class PayloadTooLarge(_Simple):
    """The body exceeds the configured size limit."""

    wire_code = ErrorCode.PAYLOAD_TOO_LARGE


class AuthenticationFailed(_Simple):
    """Credentials are missing, forged, expired or replayed."""

    wire_code = ErrorCode.SECURITY_ERROR


class PermissionDenied(_Simple):
    """Authenticated, but not allowed to do this."""

    wire_code = ErrorCode.FORBIDDEN


class NotFound(_Simple):
    """The resource does not exist, or is not visible to the caller."""

    wire_code = ErrorCode.NOT_FOUND


class IllegalTransition(_Simple):
    """The parcel or compartment is not in a state that allows this action."""

    wire_code = ErrorCode.ILLEGAL_TRANSITION


class NoCompartmentAvailable(_Simple):
    """No free compartment fits the parcel at this locker."""

    wire_code = ErrorCode.NO_COMPARTMENT_AVAILABLE


class HoldNotActive(_Simple):
    """A soft hold was used after it expired, was released or converted, or by another parcel."""

    wire_code = ErrorCode.HOLD_NOT_ACTIVE


class BundleOverCapacity(OpenLockerError):
    """The locker cannot take every parcel of a bundle now; `issues` name the ones left out."""

    def __init__(
        self,
        description: str,
        *,
        issues: tuple[FieldIssue, ...] = (),
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description, ErrorCode.BUNDLE_OVER_CAPACITY, issues, details or {})


class RequirementNotMet(OpenLockerError):
    """No compartment of the locker, free or not, meets a delivery requirement: waiting will
    not help, unlike NoCompartmentAvailable. `issues` point at the requirements."""

    def __init__(
        self,
        description: str,
        *,
        issues: tuple[FieldIssue, ...],
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description, ErrorCode.REQUIREMENT_NOT_MET, issues, details or {})


class CompartmentAlarmed(_Simple):
    """A deposit into a compartment whose temperature is out of range, with no other free
    compartment meeting the parcel's requirements to move its reservation to: nothing goes
    in until the alarm clears or a door frees up (the cold chain is kept)."""

    wire_code = ErrorCode.COMPARTMENT_ALARMED


class AlreadyExists(_Simple):
    """A resource with this identifier exists already."""

    wire_code = ErrorCode.ALREADY_EXISTS


class IdempotencyKeyMissing(_Simple):
    """A mutation came without an Idempotency-Key header."""

    wire_code = ErrorCode.IDEMPOTENCY_KEY_MISSING


class IdempotencyConflict(_Simple):
    """The Idempotency-Key was used before with a different request."""

    wire_code = ErrorCode.IDEMPOTENCY_CONFLICT


class NotSupported(_Simple):
    """The action or feature is not supported by this gateway or locker."""

    wire_code = ErrorCode.NOT_SUPPORTED


class OperationTimeout(_Simple):
    """A locker or downstream system did not answer in time."""

    wire_code = ErrorCode.TIMEOUT


class Unavailable(_Simple):
    """A dependency (database, broker, locker) is unreachable right now."""

    wire_code = ErrorCode.UNAVAILABLE


class ConcurrentUpdate(_Simple):
    """Another transaction changed the same row first; the caller may retry."""

    wire_code = ErrorCode.INTERNAL_ERROR
