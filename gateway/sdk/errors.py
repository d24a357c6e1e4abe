"""Adapter errors: translate every foreign exception at the adapter's boundary into these."""

from __future__ import annotations

from gateway.errors import (
    ErrorCode,
    FieldIssue,
    MalformedMessage,
    OpenLockerError,
    OperationTimeout,
    Unavailable,
    ValidationFailed,
)

__all__ = [
    "AdapterConfigError",
    "AdapterConnectionError",
    "AdapterError",
    "AdapterProtocolError",
    "AdapterTimeout",
    "ErrorCode",
    "FieldIssue",
    "LockerNotConnected",
    "MalformedMessage",
    "OpenLockerError",
    "ValidationFailed",
]


class AdapterError(Unavailable):
    """Base of adapter failures; maps to the wire code Unavailable unless a subclass says."""


class AdapterConnectionError(AdapterError):
    """The link to the locker (broker, serial bus, vendor API) is down."""


class LockerNotConnected(AdapterError):
    """The locker is offline or has not booted."""


class AdapterProtocolError(AdapterError):
    """The locker answered something the protocol does not allow."""


class AdapterTimeout(OperationTimeout):
    """The locker did not answer within the deadline."""


class AdapterConfigError(ValidationFailed):
    """The adapter's configuration is invalid."""
