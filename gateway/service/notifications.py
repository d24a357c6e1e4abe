"""Parcel events into the webhook outbox, inside the very transaction of the transition."""

from __future__ import annotations

import logging
import uuid

from gateway.domain.parcel import Parcel, ParcelEvent
from gateway.domain.webhooks import WebhookEventType
from gateway.store import NewDelivery, UnitOfWork
from gateway.wire import WebhookEventOut, dump, event_to_wire, parcel_to_wire

log = logging.getLogger(__name__)

# Fixed for ever: an event's id is derived from it, so it must never change between releases.
EVENT_ID_NAMESPACE = uuid.UUID("5f1d8a3c-2b7e-4c19-9d64-0e8b7a2f4c31")


def event_id(parcel_uid: str, seq: int) -> str:
    """The id receivers dedupe on: one per parcel event, whatever the attempt or subscription."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{parcel_uid}/{seq}"))


async def record_parcel_event(tx: UnitOfWork, parcel: Parcel, event: ParcelEvent) -> None:
    """Queue `event` for every active subscription of the parcel's carrier that wants it.

    Called right after the event is appended, in the same transaction: the deliveries exist
    exactly when the transition is committed (no event lost on a crash, none for a rollback).
    `parcel` is the parcel as that transaction leaves it.
    """
    wanted = [s for s in await tx.webhooks.list_active(parcel.carrier_id) if s.wants(event.type)]
    if not wanted:
        return
    try:
        kind = WebhookEventType(event.type)
    except ValueError:
        # Not a parcel state we publish; a webhook must never be the reason a transition fails.
        log.warning("parcel event type %s has no webhook event type; not delivered", event.type)
        return
    eid = event_id(parcel.uid, event.seq)
    body = dump(
        WebhookEventOut(
            event_id=eid,
            type=kind,
            occurred_at=event.at,
            carrier_id=parcel.carrier_id,
            parcel=parcel_to_wire(parcel),
            event=event_to_wire(event),
        )
    )
    for subscription in wanted:
        delivery = NewDelivery(
            event_id=eid,
            subscription_id=subscription.id,
            carrier_id=parcel.carrier_id,
            parcel_uid=parcel.uid,
            parcel_seq=event.seq,
            type=kind.value,
            body=body,
        )
        await tx.outbox.enqueue(delivery, at=event.at)
