"""A locker keypad's lockout and its clearing as network events, queued in the outbox.

`locker.keypad_locked` and `locker.keypad_cleared` (schemas/v1/webhook-locker-event.json) go
to every active webhook subscription that names the type: the event is about shared network
infrastructure, not one carrier's parcel, so a subscription for "every type" (events null)
is not sent it unasked. The rows are written in the transaction that locks or clears the
keypad: the event exists exactly when that change is committed.

A row's `parcel_uid` is the event's subject, `locker:<id>`, and `parcel_seq` the locker's
event number, so the delivery engine's per-parcel ordering keeps a locker's locked/cleared
events in order for each receiver.
"""

from __future__ import annotations

from datetime import datetime

from gateway.domain.keypad import KeypadCounter, LockoutReason
from gateway.domain.webhooks import WebhookEventType
from gateway.service.named_events import queue_named
from gateway.service.notifications import event_id as notification_event_id
from gateway.store import UnitOfWork
from gateway.wire import dump
from gateway.wire.webhooks import KeypadLockoutOut, WebhookLockerEventOut


def locker_subject(locker_id: str) -> str:
    """The outbox's ordering key of a locker's network events (never a parcel uid)."""
    return f"locker:{locker_id}"


async def record_keypad_event(
    tx: UnitOfWork,
    kind: WebhookEventType,
    counter: KeypadCounter,
    *,
    at: datetime,
    reason: LockoutReason,
    cleared_by: str | None = None,
    why: str | None = None,
) -> int:
    """Queue `kind` about `counter`'s locker for every subscription that asked for it; how
    many rows. `counter` is the keypad as this transaction leaves it (row claimed)."""
    seq = await tx.keypads.next_event_seq(counter.locker_id)
    event_id = notification_event_id(locker_subject(counter.locker_id), seq)
    whole = dump(
        WebhookLockerEventOut(
            event_id=event_id,
            type=kind,
            occurred_at=at,
            locker_id=counter.locker_id,
            keypad=KeypadLockoutOut(
                reason=reason,
                locked_until=counter.locked_until,
                lockout=counter.lockouts,
                daily_failures=counter.day_failures,
            ),
            cleared_by=cleared_by,
            reason=why,
        )
    )
    # clearedBy and reason are absent, not null, on a keypad_locked event.
    body = {key: value for key, value in whole.items() if value is not None}
    queued = 0
    for carrier in await tx.carriers.list():
        queued += await queue_named(
            tx,
            carrier.id,
            kind,
            event_id=event_id,
            subject=locker_subject(counter.locker_id),
            seq=seq,
            body=body,
            at=at,
        )
    return queued
