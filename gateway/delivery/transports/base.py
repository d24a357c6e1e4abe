"""The transport contract: send one rendered request, report what happened, never raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gateway.delivery.routes import Route
from gateway.sdk.connectors import Outbound

__all__ = ["Outcome", "Transport"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got. The engine turns it into delivered, retry, dead or disabled.

    - `status`: the HTTP status (or the SMTP reply code) when the peer answered at all;
    - `error`: why there was no usable answer (timeout, refused, TLS), for `lastError`;
    - `retry_after_s`: the peer asked to wait this long (HTTP 429/503 `Retry-After`);
    - `permanent`: retrying cannot help (SMTP 5xx, a rejected address): dead at once;
    - `gone`: the endpoint no longer exists (HTTP 410): the target is disabled.
    """

    ok: bool
    status: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
    permanent: bool = False
    gone: bool = False


class Transport(Protocol):
    """One per kind of Outbound; an async context manager owning its connections."""

    async def send(
        self, outbound: Outbound, route: Route, *, event_id: str, attempt: int
    ) -> Outcome:
        """Send, bounded by `route.policy.timeout_s`; every failure is an Outcome, not a raise."""
        ...
