"""Sample events of every OLP event type, for connector tests and `openlocker connectors test`.

The samples are fixed (ids, times, a fictional recipient), so a connector rendering one twice
must produce the same bytes; they carry no real personal data.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from gateway.domain.enums import Direction, ParcelState, SizeClass
from gateway.domain.webhooks import WebhookEventType
from gateway.sdk.connectors.events import AccessInfo, ConnectorEvent, LockerInfo, Recipient
from gateway.sdk.connectors.vocabulary import OLP_EVENT_TYPES, PICKUP_REMINDER
from gateway.wire.parcels import ParcelEventOut, ParcelOut, RequestedOut

__all__ = ["sample_event", "sample_events"]

_S = ParcelState
# The state each sample leaves: the usual predecessor on the way to it (None: the first event).
_FROM: dict[ParcelState, ParcelState | None] = {
    _S.ANNOUNCED: None,
    _S.RESERVED: _S.ANNOUNCED,
    _S.RESERVATION_EXPIRED: _S.RESERVED,
    _S.CANCELLED: _S.RESERVED,
    _S.DEPOSIT_FAILED: _S.RESERVED,
    _S.READY_FOR_PICKUP: _S.RESERVED,
    _S.PICKED_UP: _S.READY_FOR_PICKUP,
    _S.PICKUP_FAILED: _S.READY_FOR_PICKUP,
    _S.EXPIRED: _S.READY_FOR_PICKUP,
    _S.COLLECTED: _S.EXPIRED,
    _S.RETURNED: _S.COLLECTED,
    _S.DROPOFF_ANNOUNCED: None,
    _S.DROPPED_OFF: _S.DROPOFF_ANNOUNCED,
    _S.REDIRECTED: _S.RESERVED,
}
_FIRST_MILE = {_S.DROPOFF_ANNOUNCED, _S.DROPPED_OFF}
_NAMESPACE = uuid.UUID("6f1c2a57-3b0e-4c8e-9a43-0d6c1f2b9e10")
_CREATED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def sample_event(
    event_type: str = WebhookEventType.READY_FOR_PICKUP.value,
    *,
    carrier_id: str = "acme-post",
    network_id: str = "openlocker-sample",
    recipient: bool = True,
    seq: int = 3,
) -> ConnectorEvent:
    """One plausible event of `event_type`; ValueError for a type OLP does not define.

    A reminder is not a state change: its `event` is the deposit that made the parcel ready.
    """
    if event_type not in OLP_EVENT_TYPES:
        known = ", ".join(OLP_EVENT_TYPES)
        raise ValueError(f"unknown OLP event type {event_type!r} (known: {known})")
    reminder = event_type == PICKUP_REMINDER
    state = _S.READY_FOR_PICKUP if reminder else ParcelState(event_type.removeprefix("parcel."))
    at = _CREATED + timedelta(hours=seq)
    deposited = state not in {_S.ANNOUNCED, _S.RESERVED, _S.CANCELLED, _S.DROPOFF_ANNOUNCED}
    parcel = ParcelOut(
        parcel_id="JJD000390007729481234",
        direction=Direction.FIRST_MILE if state in _FIRST_MILE else Direction.LAST_MILE,
        state=state,
        locker_id="WAW-CENTRUM-01",
        compartment_code="B07" if deposited or state is _S.RESERVED else None,
        requested=RequestedOut(size_class=SizeClass.M, weight_g=1800),
        reference="order 4711",
        reserved_until=_CREATED + timedelta(days=1) if state is _S.RESERVED else None,
        pickup_until=at + timedelta(days=3) if state is _S.READY_FOR_PICKUP else None,
        redirected_from=None,
        redirected_to="WAW-MOKOTOW-02" if state is _S.REDIRECTED else None,
        created_at=_CREATED,
        updated_at=at,
    )
    event = ParcelEventOut(
        seq=seq,
        type=WebhookEventType.READY_FOR_PICKUP.value if reminder else event_type,
        from_state=_FROM[state],
        to_state=state,
        at=at,
        details={},
    )
    ready = state is _S.READY_FOR_PICKUP
    # A reminder goes out a day before the pickup window ends.
    occurred = at + timedelta(days=2) if reminder else at
    return ConnectorEvent(
        event_id=str(uuid.uuid5(_NAMESPACE, f"{parcel.parcel_id}/{event_type}/{seq}")),
        type=event_type,
        occurred_at=occurred,
        network_id=network_id,
        carrier_id=carrier_id,
        parcel=parcel,
        event=event,
        locker=LockerInfo(
            locker_id="WAW-CENTRUM-01",
            name="Centrum 01",
            address="ul. Przykładowa 1, 00-001 Warszawa",
            latitude=52.2297,
            longitude=21.0122,
            timezone="Europe/Warsaw",
        ),
        recipient=(
            Recipient(
                name="Ada Example",
                email="ada@example.org",
                phone="+48500100200",
                language="pl",
            )
            if recipient
            else None
        ),
        access=(
            AccessInfo(code="482913", expires_at=at + timedelta(days=3))
            if ready and recipient
            else None
        ),
    )


def sample_events(*, recipient: bool = True) -> list[ConnectorEvent]:
    """One sample of every OLP event type, in the order of `OLP_EVENT_TYPES`."""
    return [sample_event(t, recipient=recipient) for t in OLP_EVENT_TYPES]
