"""HTTP transport: sends `HttpRequest` with httpx, one client per distinct TLS identity.

Redirects are never followed (a signature or credential is for the URL it was made for);
one timeout bounds the whole attempt, credentials included, so a receiver trickling bytes
cannot hold it past its lease; the answer's body is never read, only its status and
`Retry-After`. Every failure is an `Outcome`, never a raise.

Targets that resolve to loopback, private, link-local or reserved addresses are refused at
connect time unless allowed (`[webhooks] allow_private_targets`; see addresses.py): a
permanent outcome, logged once per host.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable
from types import TracebackType
from typing import Self

import httpcore
import httpx

from gateway.clock import Clock, utc_now
from gateway.delivery.auth.base import AuthContext
from gateway.delivery.routes import Route
from gateway.delivery.schedule import retry_after_s
from gateway.delivery.transports.addresses import (
    AddressPolicy,
    GuardedBackend,
    Network,
    TargetRefused,
)
from gateway.delivery.transports.base import Outcome
from gateway.errors import OpenLockerError
from gateway.observability import tracing
from gateway.sdk.connectors import HttpRequest, Outbound

__all__ = ["USER_AGENT", "HttpTransport"]

USER_AGENT = "OpenLocker/1.0"
MAX_ERROR = 500  # the schemas' bound for lastError
_WAIT_STATUSES = frozenset({429, 503})  # the statuses whose Retry-After we honour
_MAX_REFUSALS_LOGGED = 1024  # hosts remembered for "logged once"; beyond it, logged again

log = logging.getLogger(__name__)


class HttpTransport:
    """`async with HttpTransport(...)`; the delivery engine enters it for its own lifetime."""

    def __init__(
        self,
        *,
        max_connections: int = 32,
        clock: Clock = utc_now,
        transport: httpx.AsyncBaseTransport | None = None,  # tests only: an in-process app
        allow_private: Iterable[Network] = (),
    ) -> None:
        self._max_connections = max_connections
        self._clock = clock
        self._transport = transport
        self._backend = GuardedBackend(AddressPolicy(allow_private))
        self._refused_hosts: set[str] = set()
        # Keyed by the context object's id; the context is kept too, so the id is not reused.
        self._clients: dict[int | None, tuple[ssl.SSLContext | None, httpx.AsyncClient]] = {}
        self._closed = False

    async def __aenter__(self) -> Self:
        self._closed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        clients, self._clients = self._clients, {}
        for _, client in clients.values():
            await client.aclose()

    async def send(
        self, outbound: Outbound, route: Route, *, event_id: str, attempt: int
    ) -> Outcome:
        if not isinstance(outbound, HttpRequest):
            return Outcome(
                ok=False, error=f"the HTTP transport cannot send {type(outbound).__name__}"
            )
        timeout_s = route.policy.timeout_s
        try:
            client = self._client(route.auth.ssl_context())
            async with asyncio.timeout(timeout_s):
                context = AuthContext(
                    event_id=event_id, attempt=attempt, unix_time=int(self._clock().timestamp())
                )
                request = await route.auth.apply(outbound, context, client)
                headers = dict(request.headers)
                # After signing: no signature scheme here covers it. The delivery's span.
                tracing.inject(headers)
                stream = client.stream(
                    request.method,
                    request.url,
                    content=request.body,
                    headers=headers,
                )
                async with stream as response:
                    # The answer's body is never read: only the status (and Retry-After) matter.
                    status = response.status_code
                    wait = None
                    if status in _WAIT_STATUSES:
                        wait = retry_after_s(response.headers.get("retry-after"), now=self._clock())
        except TargetRefused as err:
            self._log_refusal(err)
            # Permanent: the address will not become public by retrying; the delivery is dead
            # at once with the reason in lastError, and the breaker is not tripped for it.
            return Outcome(ok=False, error=_clip(str(err)), permanent=True)
        except (TimeoutError, httpx.TimeoutException):
            return Outcome(ok=False, error=f"no answer within {timeout_s:g} s")
        except httpx.HTTPError as err:
            return Outcome(ok=False, error=_clip(_describe(err)))
        except OpenLockerError as err:
            # AuthFailed and friends: their text names what went wrong, never a secret.
            return Outcome(ok=False, error=_clip(f"credentials unavailable: {err.description}"))
        except (OSError, ValueError, ssl.SSLError) as err:
            # A TLS context or URL the plugin or connector got wrong; the type says enough.
            return Outcome(ok=False, error=f"request not sent: {type(err).__name__}")
        return Outcome(
            ok=200 <= status < 300,
            status=status,
            retry_after_s=wait,
            gone=status == 410,
        )

    def _log_refusal(self, err: TargetRefused) -> None:
        if err.host in self._refused_hosts:
            return
        if len(self._refused_hosts) >= _MAX_REFUSALS_LOGGED:
            self._refused_hosts.clear()
        self._refused_hosts.add(err.host)
        log.warning(
            "refusing to send to %s: it resolves to %s (%s); allow the network in "
            "[webhooks] allow_private_targets if this receiver is meant to be internal",
            err.host,
            err.address,
            err.reason,
        )

    def _client(self, context: ssl.SSLContext | None) -> httpx.AsyncClient:
        if self._closed:
            raise RuntimeError("the HTTP transport is closed")
        key = None if context is None else id(context)
        entry = self._clients.get(key)
        if entry is None:
            limits = httpx.Limits(
                max_connections=self._max_connections,
                max_keepalive_connections=self._max_connections,
            )
            client = httpx.AsyncClient(
                follow_redirects=False,
                limits=limits,
                headers={"User-Agent": USER_AGENT},
                # The whole-attempt timeout above is the real bound; this is only a backstop.
                timeout=httpx.Timeout(120.0),
                transport=self._transport or self._guarded(context, limits),
            )
            entry = self._clients[key] = (context, client)
        return entry[1]

    def _guarded(
        self, context: ssl.SSLContext | None, limits: httpx.Limits
    ) -> httpx.AsyncBaseTransport:
        transport = httpx.AsyncHTTPTransport(
            verify=context if context is not None else True, limits=limits
        )
        # httpx has no parameter for httpcore's network backend, so its pool is rebuilt with
        # the same settings and ours (httpx's own handling of requests and errors is kept).
        # A transport of our own also means no proxy from the environment: a proxy would
        # make the connection, out of reach of the address check.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=transport._pool._ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=self._backend,
        )
        return transport


def _describe(err: httpx.HTTPError) -> str:
    if isinstance(err, httpx.LocalProtocolError):
        # h11 quotes the header value it refused, and that may be a credential.
        return f"{type(err).__name__}: the request could not be written (a header value?)"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else repr(err)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"
