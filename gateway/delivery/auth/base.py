"""The auth-plugin contract the delivery engine calls around every HTTP attempt."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Protocol

import httpx

from gateway.sdk.connectors import HttpRequest

__all__ = ["AuthContext", "AuthPlugin"]


@dataclass(frozen=True, slots=True)
class AuthContext:
    """What a signing scheme may bind into its signature besides the body."""

    event_id: str  # stable across attempts: the Standard Webhooks `webhook-id`
    attempt: int  # 1-based
    unix_time: int  # the engine's clock at this attempt, seconds


class AuthPlugin(Protocol):
    """One instance per attachment, built at start-up from its validated config."""

    async def apply(
        self, request: HttpRequest, context: AuthContext, client: httpx.AsyncClient
    ) -> HttpRequest:
        """The request with credentials or signature headers added.

        May call out (an OAuth2 token endpoint) through `client`; raises
        `gateway.delivery.auth.AuthFailed` when credentials cannot be had (counted as a failed
        attempt, retried with back-off).
        """
        ...

    def unauthorized(self) -> bool:
        """The endpoint answered 401: drop cached credentials. True if one immediate retry
        with fresh credentials is worth it (OAuth2), False otherwise (a static key)."""
        ...

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client-certificate TLS context for mutual TLS, or None for the default."""
        ...
