"""The shipped example mappings load through the settings path and render every mapped event."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.template import TemplateConnector
from gateway.delivery.attachment_routes import AttachmentInvalid, build_attachment
from gateway.delivery.routes import DeliveryPolicy
from gateway.domain.delivery import AttachmentSource
from gateway.sdk.connectors import (
    OLP_EVENT_TYPES,
    ConnectorConfigError,
    HttpRequest,
    InboundRequest,
    ParcelStatusView,
    SkipEvent,
)
from gateway.sdk.connectors.samples import sample_event
from gateway.service.connectors import NewAttachment
from gateway.settings import Settings
from gateway.spec import DEFAULT_SPEC_DIR

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "connectors"
UPU = EXAMPLES / "upu-emsevt.toml"
INPOST = EXAMPLES / "inpost-shipx-like.toml"
UPU_TABLE = DEFAULT_SPEC_DIR / "vocabulary" / "olp-to-upu-emsevt.json"
UPU_CODES = DEFAULT_SPEC_DIR / "vocabulary" / "upu-emsevt-events.json"
URL = "https://carrier.example/items/{{ parcel.parcelId }}/events"
# Status names of the public ShipX API's status list (the subset this example uses).
SHIPX_STATUSES = {
    "confirmed",
    "canceled",
    "oversized",
    "ready_to_pickup",
    "delivered",
    "pickup_time_expired",
    "avizo",
    "returned_to_sender",
    "dispatched_by_sender",
    "redirect_to_box",
    "pickup_reminder_sent",
}


def attach(path: Path, **config: Any) -> TemplateConnector:
    """The example as an operator attaches it: a `[[connectors]]` table of the settings."""
    settings = Settings(
        connectors=[
            {
                "id": f"{path.stem}-1",
                "carrier": "acme",
                "connector": "template",
                "config": {"mapping_file": str(path), "url": URL, **config},
            }
        ]
    )
    entry = NewAttachment.from_settings(settings.connectors[0])
    record = entry.record(AttachmentSource.CONFIG, datetime.now(UTC))
    built = build_attachment(record, defaults=DeliveryPolicy())
    assert isinstance(built.connector, TemplateConnector)
    return built.connector


def example(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def rendered(connector: TemplateConnector, event_type: str) -> tuple[HttpRequest, Any]:
    event = sample_event(event_type)
    request = connector.render(event)
    assert request.method == "POST"
    assert request.url == f"https://carrier.example/items/{event.parcel.parcel_id}/events"
    assert request.headers["Content-Type"] == "application/json"
    return request, json.loads(request.body)


# ---- UPU EMSEVT ---------------------------------------------------------------------------


def test_upu_example_agrees_with_the_published_table() -> None:
    table = json.loads(UPU_TABLE.read_text(encoding="utf-8"))["mappings"]
    published = {m["eventType"]: m["code"] for m in table if m["code"] is not None}
    ours = {t: s["code"] for t, s in example(UPU)["statuses"].items()}
    assert ours == published
    assert example(UPU)["unmapped"] == "skip"  # types without a code are not sent


def test_upu_example_uses_only_emsevt_codes() -> None:
    codes = {c["code"] for c in json.loads(UPU_CODES.read_text(encoding="utf-8"))["codes"]}
    assert {s["code"] for s in example(UPU)["statuses"].values()} <= codes


@pytest.mark.parametrize("event_type", OLP_EVENT_TYPES)
def test_upu_example_renders_every_event(event_type: str) -> None:
    connector = attach(UPU)
    mapped = example(UPU)["statuses"].get(event_type)
    if mapped is None:
        with pytest.raises(SkipEvent):
            connector.render(sample_event(event_type))
        return
    event = sample_event(event_type)
    _, body = rendered(connector, event_type)
    assert body["itemId"] == event.parcel.parcel_id
    assert body["eventCode"] == mapped["code"]
    assert body["eventTime"] == "2026-03-02T11:00:00Z"
    assert body["eventOffice"] == event.parcel.locker_id
    assert body["location"] == {"name": "Centrum 01", "latitude": 52.2297, "longitude": 21.0122}
    assert body["sourceEvent"] == {"id": event.event_id, "type": event_type}
    non_delivery = body["nonDelivery"]
    if mapped["code"] == "EMH":
        assert set(non_delivery) == {"reason", "action"}
    else:
        assert non_delivery is None


def test_upu_example_answers_a_status_pull_with_its_events() -> None:
    events = [
        sample_event(t, seq=i + 1)
        for i, t in enumerate(["parcel.announced", "parcel.ready_for_pickup", "parcel.expired"])
    ]
    view = ParcelStatusView(
        parcel=events[-1].parcel.model_dump(mode="json"),
        events=tuple(e.event.model_dump(mode="json") for e in events),
    )
    answer = attach(UPU).render_status(view)
    assert answer == {
        "itemId": "JJD000390007729481234",
        "lastEventCode": "EMH",
        "events": [
            {"eventCode": "EDH", "eventTime": "2026-03-02T10:00:00Z"},
            {"eventCode": "EMH", "eventTime": "2026-03-02T11:00:00Z"},
        ],
    }


# ---- InPost-ShipX-like --------------------------------------------------------------------


def test_inpost_like_example_uses_shipx_like_status_names() -> None:
    codes = {s["code"] for s in example(INPOST)["statuses"].values()}
    assert codes <= SHIPX_STATUSES


@pytest.mark.parametrize("event_type", OLP_EVENT_TYPES)
def test_inpost_like_example_renders_every_event(event_type: str) -> None:
    connector = attach(INPOST)
    mapped = example(INPOST)["statuses"].get(event_type)
    if mapped is None:
        with pytest.raises(SkipEvent):
            connector.render(sample_event(event_type))
        return
    event = sample_event(event_type)
    request, body = rendered(connector, event_type)
    assert request.headers["X-Event-Id"] == event.event_id
    assert body == {
        "event": "shipment_status_changed",
        "event_ts": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "payload": {
            "tracking_number": event.parcel.parcel_id,
            "status": mapped["code"],
            "status_title": mapped["text"],
            "target_point": event.parcel.locker_id,
            "event_id": event.event_id,
        },
    }


def test_inpost_like_example_maps_a_shipment() -> None:
    shipment = {
        "tracking_number": "620000000000000000000001",
        "reference": "order 17",
        "receiver": {"email": "ada@example.org", "phone": "600100200"},
        "custom_attributes": {"target_point": "WAW-CENTRAL-01"},
        "parcels": [{"template": "medium", "weight_g": "1800"}],
    }
    request = InboundRequest(body=json.dumps(shipment).encode(), content_type="application/json")
    announcement = attach(INPOST).parse_inbound(request)
    assert announcement == {
        "parcelId": "620000000000000000000001",
        "lockerId": "WAW-CENTRAL-01",
        "sizeClass": "M",
        "weightG": 1800,
        "reference": "order 17",
        "recipient": {"email": "ada@example.org"},
    }


# ---- through the settings path, mistakes are named ---------------------------------------


def test_a_settings_attachment_with_a_broken_example_path_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(AttachmentInvalid, match=r"connectors\[nowhere-1\]\.config: mapping file"):
        attach(tmp_path / "nowhere.toml")


def test_a_settings_attachment_that_repeats_a_file_key_is_refused() -> None:
    with pytest.raises(ConnectorConfigError, match="both set unmapped"):
        attach(UPU, unmapped="error")
