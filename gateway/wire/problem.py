"""RFC 9457 problem+json bodies and the one mapping of wire error codes to HTTP statuses."""

from __future__ import annotations

import re
from types import MappingProxyType

from gateway.errors import ErrorCode, OpenLockerError
from gateway.wire.base import WireModel

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://openlocker.dev/olp/v1/errors#"

C = ErrorCode
# SPEC.md publishes this table; a test keeps the two equal.
HTTP_STATUS = MappingProxyType(
    {
        C.FORMAT_VIOLATION: 400,
        C.PROPERTY_CONSTRAINT_VIOLATION: 422,
        C.PAYLOAD_TOO_LARGE: 413,
        C.UNSUPPORTED_MEDIA_TYPE: 415,
        C.SECURITY_ERROR: 401,
        C.FORBIDDEN: 403,
        C.NOT_FOUND: 404,
        C.METHOD_NOT_ALLOWED: 405,
        C.ILLEGAL_TRANSITION: 409,
        C.NO_COMPARTMENT_AVAILABLE: 409,
        C.REQUIREMENT_NOT_MET: 422,
        C.COMPARTMENT_ALARMED: 409,
        C.HOLD_NOT_ACTIVE: 409,
        C.BUNDLE_OVER_CAPACITY: 409,
        C.ALREADY_EXISTS: 409,
        C.IDEMPOTENCY_KEY_MISSING: 400,
        C.IDEMPOTENCY_CONFLICT: 409,
        C.NOT_SUPPORTED: 501,
        C.TIMEOUT: 504,
        C.UNAVAILABLE: 503,
        C.INTERNAL_ERROR: 500,
    }
)


class FieldIssueOut(WireModel):
    pointer: str
    detail: str


class ProblemOut(WireModel):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    code: ErrorCode
    errors: list[FieldIssueOut] | None = None
    checks: dict[str, str] | None = None  # /readyz: every dependency's verdict


def problem_type(code: ErrorCode) -> str:
    """The problem `type` URI of a code, e.g. https://openlocker.dev/olp/v1/errors#NotFound."""
    return PROBLEM_TYPE_BASE + code.value


def problem_title(code: ErrorCode) -> str:
    """A fixed human title per code: "NoCompartmentAvailable" -> "No compartment available"."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", code.value).capitalize()


def problem_from_error(error: OpenLockerError, *, instance: str | None = None) -> ProblemOut:
    """The problem body for an error; `details` stay internal, field issues go out."""
    issues = [FieldIssueOut(pointer=i.pointer, detail=i.detail) for i in error.issues]
    return ProblemOut(
        type=problem_type(error.code),
        title=problem_title(error.code),
        status=HTTP_STATUS[error.code],
        detail=error.description[:2000],  # the schema's limit; descriptions may echo input
        instance=instance,
        code=error.code,
        errors=issues or None,
    )
