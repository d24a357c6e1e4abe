"""Routes for carriers' webhook subscriptions: the olp-webhooks connector, signed with OLP JWS."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from connectors.olp_webhooks import OlpWebhooksConfig, OlpWebhooksConnector
from gateway.delivery.auth.olp_jws import OlpJwsAuth
from gateway.delivery.routes import DeliveryPolicy, Route, RouteBook, TargetKind
from gateway.store import Store

__all__ = ["CompositeRoutes", "WebhookRoutes"]

_MAX_KNOWN = 10_000  # remembered lookups before the expired ones are dropped


class WebhookRoutes:
    """The RouteBook of `TargetKind.WEBHOOK`: one route per active subscription.

    Every subscription shares the policy built from the webhook_* settings and the network's
    signing key. A lookup is remembered for `ttl_s`: on SQLite every transaction takes the
    write lock, so a read per attempt would queue the senders behind each other. A deleted
    subscription cannot outlive that by more than an attempt already claimed: deleting it
    kills its pending rows at once (and the outcome of such an attempt is fenced out).
    """

    def __init__(
        self,
        *,
        store: Store,
        sign: Callable[[bytes], str],
        policy: DeliveryPolicy,
        ttl_s: float = 2.0,
    ) -> None:
        self._store = store
        self._auth = OlpJwsAuth(sign=sign)
        self._policy = policy
        self._ttl_s = ttl_s
        self._known: dict[str, tuple[float, Route | None]] = {}

    async def route(self, kind: TargetKind, target_id: str) -> Route | None:
        if kind is not TargetKind.WEBHOOK:
            return None
        now = asyncio.get_running_loop().time()
        known = self._known.get(target_id)
        if known is not None and known[0] > now:
            return known[1]
        async with self._store.transaction() as tx:
            sub = await tx.webhooks.find(target_id)
        route = None
        if sub is not None and sub.active:
            route = Route(
                kind=TargetKind.WEBHOOK,
                target_id=sub.id,
                carrier_id=sub.carrier_id,
                connector=OlpWebhooksConnector(config=OlpWebhooksConfig(url=sub.url)),
                auth=self._auth,
                policy=self._policy,
            )
        if len(self._known) >= _MAX_KNOWN:
            self._known = {k: v for k, v in self._known.items() if v[0] > now}
        self._known[target_id] = (now + self._ttl_s, route)
        return route


class CompositeRoutes:
    """One RouteBook over the webhook book and (once attached) the connector book."""

    def __init__(self, *, webhooks: RouteBook, connectors: RouteBook | None = None) -> None:
        self._books: dict[TargetKind, RouteBook] = {TargetKind.WEBHOOK: webhooks}
        if connectors is not None:
            self._books[TargetKind.CONNECTOR] = connectors

    async def route(self, kind: TargetKind, target_id: str) -> Route | None:
        book = self._books.get(kind)
        return None if book is None else await book.route(kind, target_id)
