"""A bundle's progress as webhook events: `bundle.partially_picked_up`, `bundle.picked_up`.

Written by the transaction that picks a parcel of the bundle up (`ParcelService`), so the
event exists exactly when that pickup is committed. Each carries the whole bundle with every
parcel's state: a partial pickup is reported per parcel. Sent only to the carrier's
subscriptions that name the type (like the `locker.*` events, the body is stored whole and
sent as it is); the outbox row's subject is `bundle:<uid>` and its number the bundle's event
number, so a receiver gets one bundle's events in order.
"""

from __future__ import annotations

from datetime import datetime

from gateway.domain.bundles import BundleState
from gateway.domain.parcel import Parcel
from gateway.domain.webhooks import WebhookEventType
from gateway.service.named_events import queue_named, subscriptions_naming
from gateway.service.notifications import event_id as notification_event_id
from gateway.store import UnitOfWork
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
    bundle = record.with_parcels(parcels)
    kind = (
        WebhookEventType.BUNDLE_PICKED_UP
        if bundle.state is BundleState.PICKED_UP
        else WebhookEventType.BUNDLE_PARTIALLY_PICKED_UP
    )
    subscriptions = await subscriptions_naming(tx, record.carrier_id, kind)
    if not subscriptions:
        return 0
    seq = await tx.bundles.next_event_seq(record.uid)
    event_id = notification_event_id(bundle_subject(record.uid), seq)
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
    return await queue_named(
        tx,
        record.carrier_id,
        kind,
        event_id=event_id,
        subject=bundle_subject(record.uid),
        seq=seq,
        body=body,
        at=at,
        subscriptions=subscriptions,
    )
