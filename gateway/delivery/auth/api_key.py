"""The `api-key` plugin: a static key in one header, optionally after a scheme like `Bearer`."""

from __future__ import annotations

import ssl

import httpx
from pydantic import SecretStr

from gateway.delivery.auth.base import AuthContext
from gateway.delivery.auth.config import ApiKeyConfig
from gateway.delivery.auth.errors import AuthConfigError
from gateway.delivery.auth.headers import with_headers
from gateway.delivery.auth.secrets import resolve_secret
from gateway.sdk.connectors import HttpRequest

__all__ = ["ApiKeyAuth", "check_header_value"]


def check_header_value(value: str, *, field: str) -> str:
    """`value` if it can travel in a header; a line break would split the header (injection)."""
    if any((ord(char) < 0x20 and char != "\t") or ord(char) == 0x7F for char in value):
        raise AuthConfigError(field, "contains a line break or another control character")
    if value != value.strip():
        raise AuthConfigError(field, "starts or ends with white space")
    return value


class ApiKeyAuth:
    """`<header>: [<prefix> ]<key>` on every request; a 401 is not retried (the key is static)."""

    def __init__(self, *, header: str, value: SecretStr, prefix: str | None = None) -> None:
        self._header = header
        key = value.get_secret_value()
        self._value = SecretStr(f"{prefix} {key}" if prefix else key)

    @classmethod
    def from_config(cls, config: ApiKeyConfig, *, field: str) -> ApiKeyAuth:
        value = resolve_secret(config.value, field=f"{field}.value")
        check_header_value(value.get_secret_value(), field=f"{field}.value")
        return cls(header=config.header, value=value, prefix=config.prefix)

    async def apply(
        self, request: HttpRequest, context: AuthContext, client: httpx.AsyncClient
    ) -> HttpRequest:
        return with_headers(request, {self._header: self._value.get_secret_value()})

    def unauthorized(self) -> bool:
        return False  # the same key would be refused again

    def ssl_context(self) -> ssl.SSLContext | None:
        return None
