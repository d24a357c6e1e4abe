"""Carriers' webhook subscriptions and the dead-letter view of their deliveries."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from gateway.clock import Clock, utc_now
from gateway.delivery.transports.addresses import AddressPolicy, Network
from gateway.domain.webhooks import DeliveryState, WebhookEventType
from gateway.errors import (
    FieldIssue,
    IllegalTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from gateway.service.cursors import decode_cursor, encode_cursor
from gateway.service.idempotency import Answered, Idempotent, run_idempotent
from gateway.store import Delivery, Store, UnitOfWork, WebhookSubscriptionRecord

DELETED = "the subscription was deleted"


def check_url(url: str, addresses: AddressPolicy | None = None) -> str:
    """What the schema's pattern cannot say: a real host and a valid port (and, given
    `addresses`, no literal private or loopback IP; names are checked again at send time)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port out of range
    except ValueError:
        parts = None
    if parts is None or not parts.hostname:
        raise ValidationFailed(
            "url needs a host name and a valid port",
            issues=(FieldIssue("/url", "is not an absolute URL with a host"),),
        )
    reason = None if addresses is None else addresses.literal_refusal(parts.hostname)
    if reason is not None:
        raise ValidationFailed(
            f"url points at a {reason} address, which the gateway does not send to",
            issues=(FieldIssue("/url", f"is a {reason} address"),),
        )
    return url


class WebhookService:
    def __init__(
        self,
        *,
        store: Store,
        max_subscriptions: int,
        clock: Clock = utc_now,
        allow_private: Sequence[Network] = (),
    ) -> None:
        self._store = store
        self._max_subscriptions = max_subscriptions
        self._clock = clock
        self._addresses = AddressPolicy(allow_private)  # as the delivery engine's (SSRF)

    async def create(
        self,
        carrier_id: str,
        idem: Idempotent[WebhookSubscriptionRecord],
        *,
        url: str,
        events: Sequence[WebhookEventType] | None = None,
        description: str | None = None,
    ) -> Answered[WebhookSubscriptionRecord]:
        check_url(url, self._addresses)

        async def work(tx: UnitOfWork, now: datetime) -> WebhookSubscriptionRecord:
            if await tx.webhooks.count_active(carrier_id, lock=True) >= self._max_subscriptions:
                raise PermissionDenied(
                    f"a carrier may hold at most {self._max_subscriptions} active subscriptions"
                )
            sub = WebhookSubscriptionRecord(
                id=str(uuid.uuid4()),
                carrier_id=carrier_id,
                url=url,
                events=None if events is None else tuple(e.value for e in events),
                description=description,
                active=True,
                created_at=now,
            )
            await tx.webhooks.add(sub)
            return sub

        return await run_idempotent(
            self._store, self._clock, carrier_id, idem, work, subject="webhook"
        )

    async def list(self, carrier_id: str) -> list[WebhookSubscriptionRecord]:
        async with self._store.transaction() as tx:
            return await tx.webhooks.list_active(carrier_id)

    async def get(self, carrier_id: str, subscription_id: str) -> WebhookSubscriptionRecord:
        async with self._store.transaction() as tx:
            return await _own(tx, carrier_id, subscription_id)

    async def delete(self, carrier_id: str, subscription_id: str) -> None:
        """Deactivate for good (idempotent); what is still pending for it is given up."""
        async with self._store.transaction() as tx:
            await _own(tx, carrier_id, subscription_id)
            if await tx.webhooks.deactivate(carrier_id, subscription_id, self._clock()):
                await tx.outbox.kill_pending(subscription_id, DELETED)

    async def deliveries(
        self,
        carrier_id: str,
        subscription_id: str,
        *,
        state: DeliveryState | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> tuple[builtins.list[Delivery], str | None]:
        after = decode_cursor(cursor, "d") if cursor else None
        async with self._store.transaction() as tx:
            await _own(tx, carrier_id, subscription_id)
            items, next_id = await tx.outbox.page(
                subscription_id, state=state, after_id=after, limit=limit
            )
        return items, encode_cursor("d", next_id) if next_id is not None else None

    async def retry(
        self,
        carrier_id: str,
        subscription_id: str,
        delivery_id: int,
        idem: Idempotent[Delivery],
    ) -> Answered[Delivery]:
        """Give a dead delivery a fresh schedule of attempts, due now."""

        async def work(tx: UnitOfWork, now: datetime) -> Delivery:
            sub = await _own(tx, carrier_id, subscription_id)
            if await tx.outbox.get(subscription_id, delivery_id) is None:
                raise NotFound(f"no delivery {delivery_id} for webhook {subscription_id}")
            if not sub.active:
                raise IllegalTransition("the subscription was deleted; its deliveries stay dead")
            return await tx.outbox.requeue(subscription_id, delivery_id, now)

        return await run_idempotent(
            self._store, self._clock, carrier_id, idem, work, subject="webhook"
        )


async def _own(tx: UnitOfWork, carrier_id: str, subscription_id: str) -> WebhookSubscriptionRecord:
    """The carrier's own subscription; another carrier's is reported missing so ids do not leak."""
    sub = await tx.webhooks.get(carrier_id, subscription_id)
    if sub is None:
        raise NotFound(f"no webhook {subscription_id!r}")
    return sub
