"""Events sent only to the webhook subscriptions that name their type, into the outbox.

`locker.*` (keypad, temperature), `hold.*`, `bundle.*` and `courier.*` events are not parcel
events: a subscription for "every type" (events null) is not sent them unasked, and their
body is stored whole and sent as it is. Each has a subject of its own (`locker:<id>`,
`hold:<id>`, `bundle:<uid>`, `courier-session:<id>`) that stands in the outbox row's
`parcel_uid`, and a number in that subject (`parcel_seq`), so the delivery engine's
per-subject ordering keeps one subject's events in order for each receiver. The event id is
`notifications.event_id(subject, seq)`. Written in the caller's transaction: the event exists
exactly when the change it reports is committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gateway.domain.delivery import TargetKind
from gateway.domain.webhooks import WebhookEventType
from gateway.store import NewDelivery, UnitOfWork, WebhookSubscriptionRecord


async def subscriptions_naming(
    tx: UnitOfWork, carrier_id: str, kind: WebhookEventType
) -> list[WebhookSubscriptionRecord]:
    """The carrier's active subscriptions that list `kind` by name."""
    return [
        sub
        for sub in await tx.webhooks.list_active(carrier_id)
        if sub.events is not None and kind.value in sub.events
    ]


async def queue_named(
    tx: UnitOfWork,
    carrier_id: str,
    kind: WebhookEventType,
    *,
    event_id: str,
    subject: str,
    seq: int,
    body: dict[str, Any],
    at: datetime,
    subscriptions: Sequence[WebhookSubscriptionRecord] | None = None,
) -> int:
    """Queue the event for each of the carrier's subscriptions that names `kind` (or for
    `subscriptions`, read by the caller with `subscriptions_naming`); how many rows."""
    if subscriptions is None:
        subscriptions = await subscriptions_naming(tx, carrier_id, kind)
    for sub in subscriptions:
        delivery = NewDelivery(
            event_id=event_id,
            target_id=sub.id,
            carrier_id=carrier_id,
            parcel_uid=subject,
            parcel_seq=seq,
            type=kind.value,
            body=body,
            target_kind=TargetKind.WEBHOOK,
        )
        await tx.outbox.enqueue(delivery, at=at)
    return len(subscriptions)
