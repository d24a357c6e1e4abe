"""OLP's own webhook signature as an auth plugin: OLP-Signature (detached JWS) per SPEC.md §10."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import replace

import httpx

from gateway.delivery.auth.base import AuthContext
from gateway.sdk.connectors import HttpRequest

__all__ = ["OlpJwsAuth"]


class OlpJwsAuth:
    """Signs the body with the network key; `sign` is `NetworkKeys.sign_detached`.

    The key is the network's own, so there is nothing to refresh on a 401 and no client
    certificate.
    """

    def __init__(self, *, sign: Callable[[bytes], str]) -> None:
        self._sign = sign

    async def apply(
        self, request: HttpRequest, context: AuthContext, client: httpx.AsyncClient
    ) -> HttpRequest:
        headers = {
            **request.headers,
            "OLP-Signature": self._sign(request.body),
            "OLP-Delivery-Attempt": str(context.attempt),
        }
        return replace(request, headers=headers)

    def unauthorized(self) -> bool:
        return False

    def ssl_context(self) -> ssl.SSLContext | None:
        return None
