"""Auth plugin errors: a config that cannot be built, and credentials that cannot be had now."""

from __future__ import annotations

from gateway.errors import FieldIssue, Unavailable
from gateway.sdk.connectors import ConnectorConfigError

__all__ = ["AuthConfigError", "AuthFailed", "field_pointer"]


def field_pointer(field: str) -> str:
    """The JSON pointer of a dotted field name: `tls.cert_file` -> `/tls/cert_file`."""
    return "/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in field.split("."))


class AuthConfigError(ConnectorConfigError):
    """An auth block that cannot be built: found at start-up, names the field, never its value.

    A subclass of `ConnectorConfigError`, so whatever reports a bad attachment at start-up
    reports a bad auth block the same way.
    """

    def __init__(
        self, field: str, problem: str, *, issues: tuple[FieldIssue, ...] | None = None
    ) -> None:
        super().__init__(
            f"{field}: {problem}", issues=issues or (FieldIssue(field_pointer(field), problem),)
        )
        self.field = field


class AuthFailed(Unavailable):
    """Credentials cannot be had right now (the token endpoint refused or is down).

    The engine counts it as a failed attempt and retries with back-off. The text names the
    endpoint and what went wrong, never a secret.
    """
