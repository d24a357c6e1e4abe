"""The HTTP edge's renderer: the services' typed results as the API's JSON bodies.

Every body a route answers with is made here, including the answers of idempotent requests,
which the services store for replays (they get these functions inside an `Idempotent`): a
replay answers byte for byte what the first request got, and no service renders wire JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from urllib.parse import quote

from gateway.domain.parcel import Parcel, ParcelEvent
from gateway.domain.webhooks import WebhookEventType
from gateway.service.codes import IssuedCode
from gateway.service.grants import IssuedGrant
from gateway.service.idempotency import JsonBody
from gateway.service.lockers import LockerView
from gateway.service.parcel_batch import ItemOutcome
from gateway.service.unlocks import OpenResult
from gateway.store import Delivery, WebhookSubscriptionRecord
from gateway.wire import (
    AccessCodeOut,
    AccessGrantOut,
    BatchItemOut,
    DeliveryListOut,
    DeliveryOut,
    FieldIssueOut,
    LockerListOut,
    LockerOut,
    OpenResultOut,
    ParcelBatchOut,
    ParcelEventListOut,
    ParcelListOut,
    WebhookDeliveryListOut,
    WebhookDeliveryOut,
    WebhookListOut,
    WebhookSubscriptionOut,
    dump,
    event_to_wire,
    locker_to_wire,
    parcel_to_wire,
    problem_from_error,
)

# ---- parcels and doors ---------------------------------------------------------------------


def parcel(found: Parcel) -> JsonBody:
    return dump(parcel_to_wire(found))


def parcel_location(parcel_id: str) -> str:
    """The parcel's URL path, as the `Location` of a booking (openapi.yaml promises it)."""
    return f"/v1/parcels/{quote(parcel_id, safe='')}"


def parcel_batch(outcomes: Sequence[ItemOutcome]) -> JsonBody:
    """A batch's answer: every item's outcome in order, with the status, `Location` and body
    (parcel or problem) that `POST /v1/parcels` would have answered for it alone."""
    items = [_batch_item(outcome) for outcome in outcomes]
    accepted = sum(1 for outcome in outcomes if outcome.parcel is not None)
    return dump(ParcelBatchOut(items=items, accepted=accepted, refused=len(items) - accepted))


def _batch_item(outcome: ItemOutcome) -> BatchItemOut:
    if outcome.parcel is not None:
        return BatchItemOut(
            index=outcome.index,
            status=201,
            location=parcel_location(outcome.parcel.parcel_id),
            parcel=parcel_to_wire(outcome.parcel),
        )
    assert outcome.refusal is not None  # an outcome holds one of the two
    where = f"/parcels/{outcome.index}"
    problem = problem_from_error(outcome.refusal)
    # An item's field pointers point into the batch body, not into the item alone.
    issues = [
        FieldIssueOut(pointer=where + issue.pointer, detail=issue.detail)
        for issue in problem.errors or []
    ]
    problem = problem.model_copy(update={"errors": issues or None})
    return BatchItemOut(index=outcome.index, status=problem.status, pointer=where, problem=problem)


def parcel_page(items: Iterable[Parcel], next_cursor: str | None) -> JsonBody:
    return dump(ParcelListOut(items=[parcel_to_wire(p) for p in items], next_cursor=next_cursor))


def parcel_events(parcel_id: str, events: Iterable[ParcelEvent]) -> JsonBody:
    return dump(ParcelEventListOut(parcel_id=parcel_id, items=[event_to_wire(e) for e in events]))


def open_result(result: OpenResult) -> JsonBody:
    return dump(
        OpenResultOut(
            outcome=result.outcome,
            purpose=result.purpose,
            locker_id=result.locker_id,
            compartment_code=result.compartment_code,
            parcel_state=result.parcel_state,
        )
    )


def access_code(issued: IssuedCode) -> JsonBody:
    return dump(
        AccessCodeOut(
            code=issued.code,
            purpose=issued.purpose,
            locker_id=issued.locker_id,
            expires_at=issued.expires_at,
        )
    )


def access_grant(issued: IssuedGrant) -> JsonBody:
    return dump(
        AccessGrantOut(
            token=issued.token,
            qr=issued.qr,
            action=issued.action,
            locker_id=issued.locker_id,
            compartment_code=issued.compartment_code,
            not_before=issued.not_before,
            expires_at=issued.expires_at,
            kid=issued.kid,
        )
    )


# ---- lockers -------------------------------------------------------------------------------


def locker(view: LockerView) -> JsonBody:
    return dump(_locker(view))


def locker_page(views: Iterable[LockerView], next_cursor: str | None) -> JsonBody:
    return dump(LockerListOut(items=[_locker(v) for v in views], next_cursor=next_cursor))


def _locker(view: LockerView) -> LockerOut:
    return locker_to_wire(view.locker, view.availability, view.distance_m)


# ---- webhooks and deliveries ---------------------------------------------------------------


def webhook(sub: WebhookSubscriptionRecord) -> JsonBody:
    return dump(subscription_to_wire(sub))


def webhook_list(subs: Iterable[WebhookSubscriptionRecord]) -> JsonBody:
    return dump(WebhookListOut(items=[subscription_to_wire(s) for s in subs]))


def webhook_delivery(found: Delivery) -> JsonBody:
    return dump(webhook_delivery_to_wire(found))


def webhook_delivery_page(items: Iterable[Delivery], next_cursor: str | None) -> JsonBody:
    page = WebhookDeliveryListOut(
        items=[webhook_delivery_to_wire(d) for d in items], next_cursor=next_cursor
    )
    return dump(page)


def delivery(found: Delivery) -> JsonBody:
    return dump(delivery_to_wire(found))


def delivery_page(items: Iterable[Delivery], next_cursor: str | None) -> JsonBody:
    return dump(
        DeliveryListOut(items=[delivery_to_wire(d) for d in items], next_cursor=next_cursor)
    )


def subscription_to_wire(sub: WebhookSubscriptionRecord) -> WebhookSubscriptionOut:
    return WebhookSubscriptionOut(
        id=sub.id,
        url=sub.url,
        events=None if sub.events is None else [WebhookEventType(e) for e in sub.events],
        description=sub.description,
        active=sub.active,
        created_at=sub.created_at,
    )


def webhook_delivery_to_wire(found: Delivery) -> WebhookDeliveryOut:
    """A delivery to a webhook, as its subscription's dead-letter view shows it."""
    return WebhookDeliveryOut(
        id=found.id,
        event_id=found.event_id,
        type=WebhookEventType(found.type),
        parcel_id=_parcel_id(found),
        state=found.state,
        attempts=found.attempts,
        next_attempt_at=found.next_attempt_at,
        last_status=found.last_status,
        last_error=found.last_error,
        created_at=found.created_at,
        delivered_at=found.delivered_at,
    )


def delivery_to_wire(found: Delivery) -> DeliveryOut:
    """A delivery to any target (webhook or connector), as `GET /v1/deliveries` and the
    operator's `openlocker deliveries list --json` show it."""
    return DeliveryOut(
        id=found.id,
        event_id=found.event_id,
        type=found.type,
        parcel_id=_parcel_id(found),
        target_kind=found.target_kind,
        target_id=found.target_id,
        state=found.state,
        attempts=found.attempts,
        next_attempt_at=found.next_attempt_at,
        last_status=found.last_status,
        last_error=found.last_error,
        created_at=found.created_at,
        delivered_at=found.delivered_at,
    )


def _parcel_id(found: Delivery) -> str | None:
    """The row's parcel; None for a network event (`locker.*`), which is about a locker."""
    parcel = found.body.get("parcel")
    return str(parcel["parcelId"]) if isinstance(parcel, dict) else None
