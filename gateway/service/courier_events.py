"""`courier.session_opened` and `courier.session_closed` in the outbox, for the carrier's own
webhook subscriptions that name the type (webhook-courier-event.json).

Written in the transaction that opens or closes the session: the event exists exactly when the
change is committed. A row's `parcel_uid` is the subject `courier-session:<id>` and its
`parcel_seq` 1 (opened) or 2 (closed), so a receiver gets a session's events in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from gateway.domain.webhooks import WebhookEventType
from gateway.service.named_events import queue_named
from gateway.service.notifications import event_id as notification_event_id
from gateway.store import UnitOfWork
from gateway.wire import dump
from gateway.wire.courier import (
    WebhookCourierEventOut,
    locker_manifest_to_wire,
    session_to_wire,
)

if TYPE_CHECKING:
    from gateway.service.courier_sessions import SessionView

_SEQ = {WebhookEventType.COURIER_SESSION_OPENED: 1, WebhookEventType.COURIER_SESSION_CLOSED: 2}


def session_subject(session_id: str) -> str:
    """The outbox's ordering key of a session's events (never a parcel uid)."""
    return f"courier-session:{session_id}"


async def record_session_event(
    tx: UnitOfWork, kind: WebhookEventType, view: SessionView, *, at: datetime
) -> int:
    """Queue `kind` about the session for each of its carrier's subscriptions naming it."""
    session = view.session
    seq = _SEQ[kind]
    subject = session_subject(session.id)
    event_id = notification_event_id(subject, seq)
    manifest = None
    if view.manifest is not None:
        manifest = locker_manifest_to_wire(session.locker_id, view.manifest)
    body = dump(
        WebhookCourierEventOut(
            event_id=event_id,
            type=kind,
            occurred_at=at,
            carrier_id=session.carrier_id,
            session=session_to_wire(session, view.state, view.items),
            manifest=manifest,
        )
    )
    return await queue_named(
        tx,
        session.carrier_id,
        kind,
        event_id=event_id,
        subject=subject,
        seq=seq,
        body=body,
        at=at,
    )
