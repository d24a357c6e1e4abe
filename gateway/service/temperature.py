"""A cold compartment's temperature alarm: recorded on the compartment, told to carriers.

A locker reports `Fault TemperatureOutOfRange` (with the reading) when a chilled or frozen
compartment leaves its class's range, and the same fault `cleared` when it is back. Applied in
the event's own transaction (EventPipeline): the compartment's alarm flag and reading change
(allocation skips an alarmed door, store/lockers.py), and a network event
`locker.temperature_alarm` / `locker.temperature_cleared` is queued for every subscription that
names it. The carrier whose parcel is inside learns its parcel id; nobody else does.
"""

from __future__ import annotations

import logging

from gateway.domain.requirements import TEMPERATURE_RANGES, TemperatureClass
from gateway.domain.webhooks import WebhookEventType
from gateway.sdk import LockerFault
from gateway.service.keypad_events import locker_subject
from gateway.service.named_events import queue_named
from gateway.service.notifications import event_id as notification_event_id
from gateway.store import UnitOfWork
from gateway.wire import dump
from gateway.wire.webhooks import (
    TemperatureAlarmOut,
    TemperatureRangeOut,
    WebhookLockerEventOut,
)

log = logging.getLogger(__name__)


async def temperature_fault(tx: UnitOfWork, event: LockerFault) -> int:
    """Record `event` (a TemperatureOutOfRange fault or its clearing); how many webhook rows
    were queued (none when the alarm state did not change: a repeated report)."""
    code = event.compartment_code
    if code is None:
        log.warning("locker %s reported a temperature alarm without a compartment", event.locker_id)
        return 0
    door = await tx.lockers.compartment(event.locker_id, code)
    if door is None:
        log.warning(
            "locker %s reported the temperature of unknown compartment %s", event.locker_id, code
        )
        return 0
    alarm = not event.cleared
    await tx.lockers.record_temperature(
        event.locker_id, code, celsius=event.temperature_c, at=event.at, alarm=alarm
    )
    if door.temperature_alarm is alarm:
        return 0
    if door.temperature is TemperatureClass.AMBIENT:
        log.warning(
            "ambient compartment %s/%s reported a temperature alarm; recorded all the same",
            event.locker_id,
            code,
        )
    (log.warning if alarm else log.info)(
        "temperature of %s/%s (%s) %s: %s °C",
        event.locker_id,
        code,
        door.temperature,
        "OUT OF RANGE" if alarm else "back in range",
        "?" if event.temperature_c is None else f"{event.temperature_c:g}",
    )
    owner = None
    if door.parcel_uid is not None:
        parcel = await tx.parcels.get_by_uid(door.parcel_uid)
        owner = None if parcel is None else (parcel.carrier_id, parcel.parcel_id)
    kind = WebhookEventType.TEMPERATURE_ALARM if alarm else WebhookEventType.TEMPERATURE_CLEARED
    # One number sequence for every locker.* event of a locker (the keypad row keeps it), so
    # the delivery engine orders keypad and temperature events of a locker alike.
    await tx.keypads.claim(event.locker_id)
    seq = await tx.keypads.next_event_seq(event.locker_id)
    subject = locker_subject(event.locker_id)
    event_id = notification_event_id(subject, seq)
    bounds = TEMPERATURE_RANGES.get(door.temperature)
    body = dump(
        WebhookLockerEventOut(
            event_id=event_id,
            type=kind,
            occurred_at=event.at,
            locker_id=event.locker_id,
            temperature=TemperatureAlarmOut(
                compartment_code=code,
                temperature_class=door.temperature,
                celsius=event.temperature_c,
                range_c=None
                if bounds is None
                else TemperatureRangeOut(low=bounds.low_c, high=bounds.high_c),
            ),
        )
    )
    queued = 0
    for carrier in await tx.carriers.list():
        mine = owner is not None and owner[0] == carrier.id
        sent = body | {"parcelId": owner[1]} if mine and owner is not None else body
        queued += await queue_named(
            tx,
            carrier.id,
            kind,
            event_id=event_id,
            subject=subject,
            seq=seq,
            body=sent,
            at=event.at,
        )
    return queued
