"""Routes for carriers' webhook subscriptions: the olp-webhooks connector, signed with OLP JWS."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection

from connectors.olp_webhooks import OlpWebhooksConfig, OlpWebhooksConnector
from gateway.delivery.auth.olp_jws import OlpJwsAuth
from gateway.delivery.routes import DeliveryPolicy, Route, RouteBook, TargetKind
from gateway.store import Store, UnitOfWork, WebhookSubscriptionRecord

__all__ = ["CompositeRoutes", "WebhookRoutes"]

_MAX_KNOWN = 10_000  # remembered rows before the expired ones are dropped

_Known = tuple[float, WebhookSubscriptionRecord | None, Route | None]
"""A subscription as a claim's refresh read it: when (loop time), the row, its route."""


class WebhookRoutes:
    """The RouteBook of `TargetKind.WEBHOOK`: one route per active subscription.

    Every subscription shares the policy built from the webhook_* settings and the network's
    signing key. The engine refreshes the subscriptions of each claimed batch in the claim's
    transaction, so its lookups never touch the database (on SQLite every transaction takes
    the write lock: a read per attempt queued the senders behind each other). A lookup that
    no claim refreshed in the last `ttl_s` reads the row. Deleting a subscription kills its
    pending rows at once, and the outcome of an attempt already claimed is fenced out.
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
        self._known: dict[str, _Known] = {}

    async def route(self, kind: TargetKind, target_id: str) -> Route | None:
        if kind is not TargetKind.WEBHOOK:
            return None
        known = self._known.get(target_id)
        if known is not None and known[0] + self._ttl_s > _now():
            return known[2]
        # Not refreshed by a claim (a caller other than the engine): the row as it is now.
        async with self._store.transaction() as tx:
            sub = await tx.webhooks.find(target_id)
        return self._route(sub, known)

    async def refresh(self, tx: UnitOfWork, targets: Collection[tuple[TargetKind, str]]) -> None:
        for kind, target_id in targets:
            if kind is TargetKind.WEBHOOK:
                self._keep(target_id, await tx.webhooks.find(target_id))

    def disabled(self, kind: TargetKind, target_id: str) -> None:
        if kind is TargetKind.WEBHOOK:
            self._known[target_id] = (_now(), None, None)

    def _keep(self, target_id: str, sub: WebhookSubscriptionRecord | None) -> None:
        now = _now()
        route = self._route(sub, self._known.get(target_id))
        if len(self._known) >= _MAX_KNOWN:
            self._known = {k: v for k, v in self._known.items() if v[0] + self._ttl_s > now}
        self._known[target_id] = (now, sub, route)

    def _route(self, sub: WebhookSubscriptionRecord | None, known: _Known | None) -> Route | None:
        if known is not None and known[1] is not None and known[1] == sub:
            return known[2]  # unchanged: the connector already built stays
        if sub is None or not sub.active:
            return None
        return Route(
            kind=TargetKind.WEBHOOK,
            target_id=sub.id,
            carrier_id=sub.carrier_id,
            connector=OlpWebhooksConnector(config=OlpWebhooksConfig(url=sub.url)),
            auth=self._auth,
            policy=self._policy,
        )


def _now() -> float:
    return asyncio.get_running_loop().time()


class CompositeRoutes:
    """One RouteBook over the webhook book and (once attached) the connector book."""

    def __init__(self, *, webhooks: RouteBook, connectors: RouteBook | None = None) -> None:
        self._books: dict[TargetKind, RouteBook] = {TargetKind.WEBHOOK: webhooks}
        if connectors is not None:
            self._books[TargetKind.CONNECTOR] = connectors

    async def route(self, kind: TargetKind, target_id: str) -> Route | None:
        book = self._books.get(kind)
        return None if book is None else await book.route(kind, target_id)

    async def refresh(self, tx: UnitOfWork, targets: Collection[tuple[TargetKind, str]]) -> None:
        for kind, book in self._books.items():
            mine = [target for target in targets if target[0] is kind]
            if mine:
                await book.refresh(tx, mine)

    def disabled(self, kind: TargetKind, target_id: str) -> None:
        book = self._books.get(kind)
        if book is not None:
            book.disabled(kind, target_id)
