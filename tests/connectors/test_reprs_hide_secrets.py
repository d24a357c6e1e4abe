"""Objects a log line or a traceback may show hide personal data, door credentials, secrets."""

from __future__ import annotations

from datetime import UTC, datetime

from gateway.delivery.attachment_routes import build_attachment
from gateway.delivery.routes import DeliveryPolicy, TargetKind
from gateway.domain.delivery import AttachmentSource
from gateway.domain.webhooks import DeliveryState
from gateway.sdk.connectors.samples import sample_event
from gateway.service.connectors import NewAttachment
from gateway.store import ConnectorAttachmentRecord, Delivery, NewDelivery
from gateway.wire import dump

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SECRET = "sk-live-never-in-a-repr-42"


def test_a_connector_event_hides_the_recipient_and_the_pickup_credential() -> None:
    event = sample_event("parcel.ready_for_pickup", carrier_id="acme", network_id="net")
    assert event.recipient is not None
    assert event.access is not None
    assert event.recipient.email  # the sample fills them
    assert event.access.code
    personal = [
        event.recipient.name,
        event.recipient.email,
        event.recipient.phone,
        event.access.code,
    ]
    for text in (repr(event), str(event), repr(event.recipient), repr(event.access)):
        leaked = [value for value in personal if value and value in text]
        assert leaked == [], text
    # Still there for the notifier that renders it, and in the stored JSON.
    assert dump(event)["recipient"]["email"] == event.recipient.email


def test_an_outbox_row_hides_its_body() -> None:
    event = sample_event("parcel.ready_for_pickup", carrier_id="acme", network_id="net")
    body = dump(event)
    email = body["recipient"]["email"]
    new = NewDelivery(
        event_id=event.event_id,
        target_id="acme-mail",
        carrier_id="acme",
        parcel_uid="u1",
        parcel_seq=1,
        type=event.type,
        body=body,
        target_kind=TargetKind.CONNECTOR,
    )
    row = Delivery(
        id=1,
        event_id=event.event_id,
        target_kind=TargetKind.CONNECTOR,
        target_id="acme-mail",
        carrier_id="acme",
        parcel_uid="u1",
        parcel_seq=1,
        type=event.type,
        body=body,
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=T0,
        last_error=None,
        last_status=None,
        created_at=T0,
        delivered_at=None,
    )
    assert email not in repr(new)
    assert email not in repr(row)
    assert "acme-mail" in repr(row)  # what identifies the row still shows


def test_an_attachment_hides_its_config_and_auth() -> None:
    record = ConnectorAttachmentRecord(
        id="acme-hooks",
        carrier_id="acme",
        connector="standard-webhooks",
        config={"url": "https://acme.example/hooks", "headers": {"X-Token": SECRET}},
        auth={"type": "api-key", "header": "X-Key", "value": SECRET},
        source=AttachmentSource.CONFIG,
        created_at=T0,
        updated_at=T0,
    )
    built = build_attachment(record, defaults=DeliveryPolicy())
    new = NewAttachment(
        id=record.id,
        carrier_id="acme",
        connector=record.connector,
        config=record.config,
        auth=record.auth,
    )
    for shown in (repr(record), repr(built), repr(new)):
        assert SECRET not in shown
        assert "acme-hooks" in shown
