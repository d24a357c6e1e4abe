"""The `oauth2-client-credentials` plugin: a Bearer token from the carrier's token endpoint.

authlib builds the token request (RFC 6749 section 4.4 form body, client_secret_basic or
client_secret_post). The request goes through the engine's httpx client for this route, so it
shares its connection pool and proxy settings and, with a `tls` block, presents the same client
certificate (what RFC 8705 token endpoints want). authlib's own httpx client is not used: it
keeps a second pool alive, reads `time.time()` (tests move a clock instead) and is deprecated
in favour of httpx2, which this project does not use.

One token serves every delivery until shortly before `expires_in` runs out (a token without
`expires_in` until the endpoint answers 401); concurrent deliveries share one token request,
and its failure, through a lock; a 401 drops the token only if it is the one that was refused.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import ssl
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_token_request,
)
from pydantic import SecretStr

from gateway.clock import Clock, utc_now
from gateway.delivery.auth.base import AuthContext
from gateway.delivery.auth.config import OAuth2ClientCredentialsConfig, TokenAuthMethod
from gateway.delivery.auth.errors import AuthFailed
from gateway.delivery.auth.headers import with_headers
from gateway.delivery.auth.secrets import resolve_secret
from gateway.sdk.connectors import HttpRequest

__all__ = ["OAuth2ClientCredentialsAuth"]

log = logging.getLogger(__name__)

_FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
_MAX_ECHO = 200  # how much of the server's error text goes into our message
_VSCHAR = re.compile(r"[\x20-\x7e]+")


@dataclass(frozen=True, slots=True)
class _Token:
    value: SecretStr
    expires_at: datetime | None  # None: until the endpoint answers 401

    def usable(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


# Which plugin and token the current delivery (its task) was last given: the engine calls
# `unauthorized()` in the task that called `apply()`, so a 401 for a token that a concurrent
# delivery has already replaced does not throw the replacement away as well.
_APPLIED: ContextVar[tuple[OAuth2ClientCredentialsAuth, _Token] | None] = ContextVar(
    "oauth2_applied_token", default=None
)


class OAuth2ClientCredentialsAuth:
    """`Authorization: Bearer <token>`; a 401 drops the token and asks for one retry."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: SecretStr,
        scope: str | list[str] | None = None,
        audience: str | None = None,
        extra_params: Mapping[str, str] | None = None,
        token_auth_method: TokenAuthMethod = TokenAuthMethod.CLIENT_SECRET_BASIC,
        expiry_leeway_s: float = 30.0,
        timeout_s: float = 10.0,
        clock: Clock = utc_now,
    ) -> None:
        self._token_url = token_url
        self._secret = client_secret
        params: dict[str, Any] = dict(extra_params or {})
        if scope:
            params["scope"] = scope
        if audience:
            params["audience"] = audience
        self._params = params
        self._client_auth = ClientAuth(
            client_id, client_secret.get_secret_value(), token_auth_method.value
        )
        self._leeway = expiry_leeway_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._token: _Token | None = None
        self._lock = asyncio.Lock()
        self._answered = 0  # token requests finished; tells a waiter that one finished meanwhile
        self._failure: AuthFailed | None = None  # how the last request failed, if it did

    @classmethod
    def from_config(
        cls, config: OAuth2ClientCredentialsConfig, *, field: str, clock: Clock = utc_now
    ) -> OAuth2ClientCredentialsAuth:
        return cls(
            token_url=str(config.token_url),
            client_id=config.client_id,
            client_secret=resolve_secret(config.client_secret, field=f"{field}.client_secret"),
            scope=config.scope,
            audience=config.audience,
            extra_params=config.extra_params,
            token_auth_method=config.token_auth_method,
            expiry_leeway_s=config.expiry_leeway_s,
            timeout_s=config.timeout_s,
            clock=clock,
        )

    async def apply(
        self, request: HttpRequest, context: AuthContext, client: httpx.AsyncClient
    ) -> HttpRequest:
        token = await self._current(client)
        _APPLIED.set((self, token))
        value = token.value.get_secret_value()
        return with_headers(request, {"Authorization": f"Bearer {value}"})

    def unauthorized(self) -> bool:
        applied = _APPLIED.get()
        if applied is not None and applied[0] is self and applied[1] is not self._token:
            # This delivery was refused an older token that another delivery has already
            # replaced: keep the new one rather than fetch yet another.
            return True
        self._token = None
        return True  # the next apply fetches a fresh token; one retry is worth it

    def ssl_context(self) -> ssl.SSLContext | None:
        return None

    async def access_token(self, client: httpx.AsyncClient) -> SecretStr:
        """The cached token, or a new one from the token endpoint (AuthFailed if none)."""
        return (await self._current(client)).value

    async def _current(self, client: httpx.AsyncClient) -> _Token:
        token = self._token
        if token is not None and token.usable(self._clock()):
            return token
        answered_before = self._answered
        async with self._lock:
            if self._answered != answered_before:
                # Another delivery asked while this one waited: share its answer, good or bad,
                # rather than send a second request for the same token.
                if self._failure is not None:
                    raise AuthFailed(self._failure.description)
                token = self._token
                if token is not None and token.usable(self._clock()):
                    return token
            self._failure = None  # a cancelled request must not leave an older failure behind
            try:
                token = await self._fetch(client)
            except AuthFailed as err:
                self._failure, self._token = err, None
                raise
            else:
                self._failure, self._token = None, token
                return token
            finally:
                self._answered += 1

    async def _fetch(self, client: httpx.AsyncClient) -> _Token:
        body: str = prepare_token_request("client_credentials", **self._params)
        url, headers, body = self._client_auth.prepare(
            "POST", self._token_url, dict(_FORM_HEADERS), body
        )
        where = f"OAuth2 token endpoint {self._token_url}"
        try:
            response = await client.post(
                url, content=str(body).encode("utf-8"), headers=headers, timeout=self._timeout_s
            )
        except httpx.TimeoutException as err:
            raise AuthFailed(f"{where} did not answer within {self._timeout_s:g} s") from err
        except httpx.HTTPError as err:
            reason = self._echo(str(err)) or type(err).__name__
            raise AuthFailed(f"{where} is unreachable: {reason}") from err
        return self._parse(response, where=where)

    def _parse(self, response: httpx.Response, *, where: str) -> _Token:
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict) and payload.get("error"):
            error = self._echo(str(payload["error"]))
            description = self._echo(str(payload.get("error_description") or ""))
            detail = f"{error} ({description})" if description else error
            raise AuthFailed(f"{where} refused the client (HTTP {status}): {detail}")
        if status >= 300:
            raise AuthFailed(f"{where} answered HTTP {status}")
        if not isinstance(payload, dict):
            raise AuthFailed(f"{where} answered HTTP {status} with a body that is no JSON object")
        access_token = payload.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise AuthFailed(f"{where} answered without an access_token")
        if not _VSCHAR.fullmatch(access_token):
            # RFC 6749 appendix A.12; anything else cannot travel in the Authorization header
            # (and the HTTP client's refusal would quote it). The token itself is not shown.
            raise AuthFailed(f"{where} issued an access_token with characters outside %x20-7E")
        token_type = payload.get("token_type") or "Bearer"
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            kind = self._echo(str(token_type))
            raise AuthFailed(f"{where} issued a {kind!r} token; only Bearer is supported")
        now = self._clock()
        lifetime = self._lifetime(payload.get("expires_in"))
        if lifetime is None:
            expires_at = None
        else:
            # Renew a little early so a token does not expire in flight; for a short-lived
            # token at most halfway through its life, so it is still reused at all.
            expires_at = now + timedelta(seconds=lifetime - min(self._leeway, lifetime / 2))
        log.debug("OAuth2 token from %s, valid for %s s", self._token_url, lifetime)
        return _Token(SecretStr(access_token), expires_at)

    def _lifetime(self, expires_in: object) -> float | None:
        if expires_in is None:
            return None
        lifetime = _number(expires_in)
        if lifetime is None:
            log.warning(
                "OAuth2 token endpoint %s sent an expires_in that is no number; the token is "
                "used until a 401",
                self._token_url,
            )
            return None
        return max(lifetime, 0.0)

    def _echo(self, text: str) -> str:
        """Server-supplied text made safe to log: no control characters, bounded, and never
        the client secret (a misconfigured server may echo the request back)."""
        secret = self._secret.get_secret_value()
        cleaned = text.replace(secret, "[redacted]") if secret else text
        cleaned = "".join(char if char.isprintable() else " " for char in cleaned)
        return cleaned[:_MAX_ECHO]


def _number(value: object) -> float | None:
    """`expires_in` as seconds: a JSON number, or a numeric string as some servers send."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
