"""Parcel events into the outbox, inside the very transaction of the transition.

One row per target that wants the event: every active webhook subscription of the parcel's
carrier and every active connector attachment of that carrier. The row's body is the
`ConnectorEvent`; each target's connector renders it only when the engine sends it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.domain.delivery import TargetKind
from gateway.domain.parcel import Parcel, ParcelEvent
from gateway.domain.webhooks import WebhookEventType
from gateway.sdk.connectors import ConnectorEvent, LockerInfo
from gateway.service.recipients import connector_notifies, connector_recipient
from gateway.store import (
    ConnectorAttachmentRecord,
    NewDelivery,
    UnitOfWork,
    WebhookSubscriptionRecord,
)
from gateway.wire import dump, event_to_wire, parcel_to_wire

log = logging.getLogger(__name__)

# Fixed for ever: an event's id is derived from it, so it must never change between releases.
EVENT_ID_NAMESPACE = uuid.UUID("5f1d8a3c-2b7e-4c19-9d64-0e8b7a2f4c31")


def event_id(parcel_uid: str, seq: int) -> str:
    """The id receivers dedupe on: one per parcel event, whatever the attempt or target."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{parcel_uid}/{seq}"))


@dataclass(frozen=True, slots=True)
class CarrierTargets:
    """A carrier's active webhook subscriptions and connector attachments, read once for all
    the events of one transaction (a booking records two), and shared for a moment by the
    transitions after it (gateway/store/carrier_targets.py): never changed once read."""

    webhooks: Sequence[WebhookSubscriptionRecord]
    attachments: Sequence[ConnectorAttachmentRecord]


async def carrier_targets(tx: UnitOfWork, carrier_id: str) -> CarrierTargets:
    cache = tx.targets_cache
    cached, ticket = cache.read(carrier_id)
    if isinstance(cached, CarrierTargets):
        return cached
    targets = CarrierTargets(
        webhooks=tuple(await tx.webhooks.list_active(carrier_id)),
        attachments=tuple(await tx.connector_attachments.list_active_for(carrier_id)),
    )
    if not tx.targets_changed:  # what this transaction wrote is nobody else's yet
        cache.keep(carrier_id, ticket, targets)
    return targets


async def record_parcel_event(
    tx: UnitOfWork,
    parcel: Parcel,
    event: ParcelEvent,
    *,
    network_id: str,
    targets: CarrierTargets | None = None,
) -> None:
    """Queue `event` for every active target of the parcel's carrier that wants it.

    Called right after the event is appended, in the same transaction: the deliveries exist
    exactly when the transition is committed (no event lost on a crash, none for a rollback).
    `parcel` is the parcel as that transaction leaves it; `targets`, when the caller read them
    in this transaction already.
    """
    known = targets or await carrier_targets(tx, parcel.carrier_id)
    wanted = [(TargetKind.WEBHOOK, s.id) for s in known.webhooks if s.wants(event.type)]
    attachments = [a for a in known.attachments if a.wants(event.type)]
    wanted += [(TargetKind.CONNECTOR, a.id) for a in attachments]
    if not wanted:
        return
    # The recipient (personal data) only in the rows of connectors that notify recipients.
    recipient = connector_recipient(parcel)
    personal = {a.id for a in attachments if recipient and connector_notifies(a.connector)}
    try:
        kind = WebhookEventType(event.type)
    except ValueError:
        # Not a parcel state we publish; a delivery must never be the reason a transition fails.
        log.warning("parcel event type %s has no published event type; not delivered", event.type)
        return
    eid = event_id(parcel.uid, event.seq)
    shared = ConnectorEvent(
        event_id=eid,
        type=kind.value,
        occurred_at=event.at,
        network_id=network_id,
        carrier_id=parcel.carrier_id,
        parcel=parcel_to_wire(parcel),
        event=event_to_wire(event),
        locker=await locker_info(tx, parcel.locker_id),
    )
    body = dump(shared)
    with_recipient = dump(shared.model_copy(update={"recipient": recipient})) if personal else body
    for target_kind, target_id in wanted:
        personal_row = target_kind is TargetKind.CONNECTOR and target_id in personal
        delivery = NewDelivery(
            event_id=eid,
            target_id=target_id,
            carrier_id=parcel.carrier_id,
            parcel_uid=parcel.uid,
            parcel_seq=event.seq,
            type=kind.value,
            body=with_recipient if personal_row else body,
            target_kind=target_kind,
        )
        await tx.outbox.enqueue(delivery, at=event.at)


async def locker_info(tx: UnitOfWork, locker_id: str) -> LockerInfo:
    locker = await tx.lockers.get(locker_id)
    if locker is None:  # a parcel always names a known locker; keep the id regardless
        return LockerInfo(locker_id=locker_id)
    return LockerInfo(
        locker_id=locker.id,
        name=locker.name,
        address=locker.location.address,
        latitude=locker.location.lat,
        longitude=locker.location.lon,
    )
