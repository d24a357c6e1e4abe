"""A bundle's progress as webhook events: `bundle.partially_picked_up`, `bundle.picked_up`.

Written by the transaction that picks a parcel of the bundle up (`ParcelService`), so the
event exists exactly when that pickup is committed. Each carries the whole bundle with every
parcel's state: a partial pickup is reported per parcel. Sent only to the carrier's
subscriptions that name the type (like the `locker.*` events, the body is stored whole and
sent as it is); the outbox row's subject is `bundle:<uid>` and its number the bundle's event
number, so a receiver gets one bundle's events in order.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from gateway.domain.bundles import Bundle, BundleState
from gateway.domain.delivery import TargetKind
from gateway.domain.parcel import Parcel
from gateway.domain.webhooks import WebhookEventType
from gateway.service.notifications import EVENT_ID_NAMESPACE
from gateway.store import NewDelivery, UnitOfWork
from gateway.wire.bundles import WebhookBundleEventOut, body_of, bundle_to_wire


def bundle_subject(bundle_uid: str) -> str:
    """The outbox's ordering key of a bundle's events (never a parcel uid)."""
    return f"bundle:{bundle_uid}"


async def record_bundle_pickup(tx: UnitOfWork, parcel: Parcel, *, at: datetime) -> int:
    """`parcel` was just picked up in `tx`: if it belongs to a bundle, queue the bundle's
    progress for the subscriptions that asked for it; how many rows (0 outside a bundle)."""
    record = await tx.bundles.of_parcel(parcel.uid)
    if record is None:
        return 0
    # Before reading the other parcels: two pickups committed at once would otherwise each
    # read the other parcel as still inside, and no `bundle.picked_up` would ever be sent.
    await tx.bundles.lock(record.uid)
    parcels = []
    for uid in record.parcel_uids:
        member = parcel if uid == parcel.uid else await tx.parcels.get_by_uid(uid)
        if member is not None:
            parcels.append(member)
    bundle = Bundle(
        uid=record.uid,
        carrier_id=record.carrier_id,
        bundle_id=record.bundle_id,
        locker_id=record.locker_id,
        created_at=record.created_at,
        parcels=tuple(parcels),
        reference=record.reference,
    )
    kind = (
        WebhookEventType.BUNDLE_PICKED_UP
        if bundle.state is BundleState.PICKED_UP
        else WebhookEventType.BUNDLE_PARTIALLY_PICKED_UP
    )
    subscriptions = [
        sub
        for sub in await tx.webhooks.list_active(record.carrier_id)
        if sub.events is not None and kind.value in sub.events
    ]
    if not subscriptions:
        return 0
    seq = await tx.bundles.next_event_seq(record.uid)
    event_id = str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{bundle_subject(record.uid)}/{seq}"))
    body = body_of(
        WebhookBundleEventOut(
            event_id=event_id,
            type=kind,
            occurred_at=at,
            carrier_id=record.carrier_id,
            picked_up=parcel.parcel_id,
            bundle=bundle_to_wire(bundle),
        )
    )
    for sub in subscriptions:
        delivery = NewDelivery(
            event_id=event_id,
            target_id=sub.id,
            carrier_id=record.carrier_id,
            parcel_uid=bundle_subject(record.uid),
            parcel_seq=seq,
            type=kind.value,
            body=body,
            target_kind=TargetKind.WEBHOOK,
        )
        await tx.outbox.enqueue(delivery, at=at)
    return len(subscriptions)
