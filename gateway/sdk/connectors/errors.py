"""Connector errors: what a connector raises when config, an event or a carrier's input is wrong."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.errors import FieldIssue, OpenLockerError, ValidationFailed

__all__ = ["ConnectorConfigError", "ConnectorError", "MappingError", "SkipEvent"]


class ConnectorError(OpenLockerError):
    """Base of connector failures."""


class ConnectorConfigError(ValidationFailed):
    """A connector's configuration (or its mapping table) is unusable; found at start-up."""


class MappingError(ValidationFailed):
    """Input that the connector's mapping cannot translate.

    Outbound (an event it cannot render) the delivery goes straight to the dead letters: a
    retry would fail the same way. Inbound (a carrier's shipment JSON) it becomes a 422
    problem+json whose `issues` name the offending field by JSON pointer.
    """

    def __init__(self, message: str, *, pointer: str = "", detail: str | None = None) -> None:
        super().__init__(message, issues=(FieldIssue(pointer, detail or message),))

    @classmethod
    def many(cls, message: str, problems: Sequence[tuple[str, str]]) -> MappingError:
        """One error for several offending fields, as (JSON pointer, detail) pairs."""
        if not problems:
            return cls(message)
        error = cls(message, pointer=problems[0][0], detail=problems[0][1])
        error.issues = tuple(FieldIssue(pointer, detail) for pointer, detail in problems)
        return error


class SkipEvent(Exception):
    """Raised by `render` for an event this connector deliberately does not send.

    The delivery is settled as `skipped` (not dead): e.g. a notifier for a recipient who
    opted out, or a status the carrier's vocabulary has no code for and the mapping says drop.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
