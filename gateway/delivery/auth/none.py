"""The `none` plugin: the request goes out as the connector rendered it."""

from __future__ import annotations

import ssl

import httpx

from gateway.delivery.auth.base import AuthContext
from gateway.sdk.connectors import HttpRequest

__all__ = ["NoAuth"]


class NoAuth:
    """No credentials: an open endpoint, or one that a client certificate alone authenticates."""

    async def apply(
        self, request: HttpRequest, context: AuthContext, client: httpx.AsyncClient
    ) -> HttpRequest:
        return request

    def unauthorized(self) -> bool:
        return False  # nothing to refresh

    def ssl_context(self) -> ssl.SSLContext | None:
        return None
