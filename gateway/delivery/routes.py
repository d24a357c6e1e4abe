"""Where an outbox row goes: its target resolved to a connector, an auth plugin and a policy.

Outbox rows name their target as (`target_kind`, `target_id`): a carrier's webhook
subscription (`webhook`, the OLP webhook format, signed with the network key) or a connector
attachment (`connector`). The engine asks a `RouteBook` for the route of each claimed row and
never looks at settings or the attachment table itself. A book keeps what it built: the engine
lets it re-read the targets of each claimed batch inside the claim's own transaction
(`refresh`), so an attempt costs no database round trip of its own and a target disabled
anywhere is not sent to by any row claimed after the disable committed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from gateway.delivery.auth.base import AuthPlugin
from gateway.domain.delivery import TargetKind  # in the domain so the outbox can store it
from gateway.sdk.connectors import Connector
from gateway.store import UnitOfWork

__all__ = ["DeliveryPolicy", "Route", "RouteBook", "TargetKind"]


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Per-target timing and limits; defaults come from the webhook_* / connector settings."""

    timeout_s: float = 10.0
    max_attempts: int = 12
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 3600.0
    rate_per_s: float | None = None  # None: no rate limit
    rate_burst: int = 10
    breaker_failures: int = 5  # consecutive failures that open the circuit
    breaker_reset_s: float = 30.0  # open circuit: one probe after this long


@dataclass(frozen=True, slots=True)
class Route:
    """Everything the engine needs to send one row to its target."""

    kind: TargetKind
    target_id: str
    carrier_id: str
    connector: Connector
    auth: AuthPlugin
    policy: DeliveryPolicy


class RouteBook(Protocol):
    async def route(self, kind: TargetKind, target_id: str) -> Route | None:
        """The route for a target, or None when it is gone or disabled (the row goes dead)."""
        ...

    async def refresh(self, tx: UnitOfWork, targets: Collection[tuple[TargetKind, str]]) -> None:
        """Re-read these targets in `tx` (the claim's); `route` then answers from memory for
        a while (each book's `ttl_s`), and reads the row itself once that is over."""
        ...

    def disabled(self, kind: TargetKind, target_id: str) -> None:
        """This instance just disabled the target: no route for it until a refresh says so."""
        ...
