"""The epcis connector: CBV terms from the published table, actions, locations, ids, bad configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connectors.epcis import EPCIS_CONTEXT, OLP_NAMESPACE, EpcisConfig, EpcisConnector
from gateway.sdk.connectors import (
    OLP_EVENT_TYPES,
    PICKUP_REMINDER,
    ConnectorConfigError,
    ConnectorEvent,
    MappingError,
    SkipEvent,
)
from gateway.sdk.connectors.samples import sample_event, sample_events
from gateway.sdk.testing.connectors import ConnectorCase, ConnectorContract

ROOT = Path(__file__).resolve().parents[2]
VOCABULARY = ROOT / "schemas" / "v1" / "vocabulary"
SHIPPED = ROOT / "connectors" / "epcis" / "data"
URL = "https://epcis.acme.example/api"
SSCC = "https://id.gs1.org/00/{parcelId}"
CBV = {
    row["eventType"]: row
    for row in json.loads((VOCABULARY / "olp-to-gs1-cbv.json").read_text())["mappings"]
}
MAPPED = [t for t in OLP_EVENT_TYPES if CBV[t]["bizStep"] is not None]
FIRST_EVENTS = ("parcel.announced", "parcel.dropoff_announced")
TERMINAL = {"parcel.cancelled", "parcel.reservation_expired", "parcel.picked_up", "parcel.returned"}


def connector(**config: Any) -> EpcisConnector:
    return EpcisConnector(config=EpcisConfig.model_validate({"url": URL, **config}))


def document(event: ConnectorEvent, **config: Any) -> dict[str, Any]:
    request = connector(**config).render(event)
    parsed: dict[str, Any] = json.loads(request.body)
    return parsed


def object_event(event: ConnectorEvent, **config: Any) -> dict[str, Any]:
    (only,) = document(event, **config)["epcisBody"]["eventList"]
    found: dict[str, Any] = only
    return found


class TestEpcisContract(ConnectorContract):
    @pytest.fixture
    def connector_case(self) -> ConnectorCase:
        return ConnectorCase(
            connector=EpcisConnector,
            configs=[
                {"url": URL},
                {"url": URL, "capture": True, "parcel_uri": SSCC, "headers": {"X-Tenant": "7"}},
                {
                    "url": URL,
                    "location_uri": "urn:epc:id:sgln:4012345.00001.{lockerId}",
                    "olp_extensions": False,
                    "action_mode": "observe",
                },
            ],
            events=[sample_event(t, seq=1) for t in FIRST_EVENTS],
        )


def test_the_shipped_tables_are_the_published_ones() -> None:
    for name in ("olp-to-gs1-cbv.json", "olp-event-types.json"):
        assert (SHIPPED / name).read_bytes() == (VOCABULARY / name).read_bytes(), name


@pytest.mark.parametrize("event_type", MAPPED)
def test_business_step_and_disposition_come_from_the_table(event_type: str) -> None:
    body = object_event(sample_event(event_type))
    assert body["type"] == "ObjectEvent"
    assert body["bizStep"] == CBV[event_type]["bizStep"]
    assert body["disposition"] == CBV[event_type]["disposition"]
    assert body["olp:eventType"] == event_type


def test_document_envelope_and_request() -> None:
    event = sample_event("parcel.ready_for_pickup")
    request = connector().render(event)
    assert request.method == "POST"
    assert request.url == URL
    assert request.headers["Content-Type"] == "application/ld+json"
    assert request.headers["GS1-EPCIS-Version"] == "2.0.0"
    doc = json.loads(request.body)
    assert doc["@context"] == [EPCIS_CONTEXT, {"olp": OLP_NAMESPACE}]
    assert doc["type"] == "EPCISDocument"
    assert doc["schemaVersion"] == "2.0"
    # Deterministic: the document is dated by the event, so a retry sends the same bytes.
    assert doc["creationDate"] == "2026-03-02T11:00:00.000Z"
    body = doc["epcisBody"]["eventList"][0]
    assert body["eventID"] == f"urn:uuid:{event.event_id}"
    assert body["eventTime"] == "2026-03-02T11:00:00.000Z"
    assert body["eventTimeZoneOffset"] == "+01:00"  # Warsaw in March
    assert body["epcList"] == [
        "urn:openlocker:openlocker-sample:parcel:acme-post:JJD000390007729481234"
    ]
    assert body["olp:compartment"] == "B07"
    assert body["olp:sequence"] == 3
    assert body["olp:pickupUntil"] == "2026-03-05T11:00:00.000Z"


def test_capture_interface_and_content_type() -> None:
    request = connector(url=URL + "/", capture=True, content_type="application/json").render(
        sample_event()
    )
    assert request.url == URL + "/capture"
    assert request.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("event_type", MAPPED)
def test_read_point_and_business_location_follow_the_table(event_type: str) -> None:
    body = object_event(sample_event(event_type))
    locker = "urn:openlocker:openlocker-sample:locker:WAW-CENTRUM-01"
    where = CBV[event_type]["location"]
    assert body.get("readPoint") == (None if where == "elsewhere" else {"id": locker})
    assert body.get("bizLocation") == ({"id": locker} if where == "at_locker" else None)


@pytest.mark.parametrize("event_type", MAPPED)
def test_lifecycle_actions_for_gateway_minted_ids(event_type: str) -> None:
    later = object_event(sample_event(event_type, seq=4))
    assert later["action"] == ("DELETE" if event_type in TERMINAL else "OBSERVE")
    assert "ilmd" not in later  # ILMD only describes what an ADD creates
    first = object_event(sample_event(event_type, seq=1))
    assert first["action"] == "ADD"
    assert first["ilmd"]["olp:sizeClass"] == "M"
    assert first["ilmd"]["olp:weightG"] == 1800


@pytest.mark.parametrize("event_type", MAPPED)
def test_a_carriers_own_id_is_only_observed(event_type: str) -> None:
    for seq in (1, 4):
        body = object_event(sample_event(event_type, seq=seq), parcel_uri=SSCC)
        assert body["action"] == "OBSERVE"
        assert body["epcList"] == ["https://id.gs1.org/00/JJD000390007729481234"]


def test_action_mode_overrides_the_default() -> None:
    first = sample_event("parcel.announced", seq=1)
    assert object_event(first, parcel_uri=SSCC, action_mode="lifecycle")["action"] == "ADD"
    assert object_event(first, action_mode="observe")["action"] == "OBSERVE"


def test_the_reminder_is_not_queued_and_skipped_if_rendered() -> None:
    epcis = connector()
    assert not epcis.wants(PICKUP_REMINDER)
    assert all(epcis.wants(t) for t in MAPPED)
    with pytest.raises(SkipEvent, match="not a visibility event"):
        epcis.render(sample_event(PICKUP_REMINDER))


def test_events_filter_narrows_what_is_queued() -> None:
    epcis = connector(events=["parcel.picked_up"])
    assert epcis.wants("parcel.picked_up")
    assert not epcis.wants("parcel.ready_for_pickup")


def test_an_unknown_event_type_is_a_mapping_error() -> None:
    event = sample_event().model_copy(update={"type": "parcel.teleported"})
    with pytest.raises(MappingError) as caught:
        connector().render(event)
    assert caught.value.issues[0].pointer == "/type"


def test_no_recipient_data_and_no_access_code_in_the_document() -> None:
    for event in sample_events():
        if event.type == PICKUP_REMINDER:
            continue
        body = connector().render(event).body.decode()
        for secret in ("Ada Example", "ada@example.org", "+48500100200", "482913"):
            assert secret not in body


def test_identifiers_are_percent_encoded() -> None:
    event = sample_event()
    parcel = event.parcel.model_copy(update={"parcel_id": "AB:12/3"})
    body = object_event(event.model_copy(update={"parcel": parcel}))
    assert body["epcList"] == ["urn:openlocker:openlocker-sample:parcel:acme-post:AB%3A12%2F3"]


def test_redirect_and_door_fault_extensions() -> None:
    redirected = object_event(sample_event("parcel.redirected"))
    assert redirected["olp:redirectedTo"].endswith(":parcel:acme-post:WAW-MOKOTOW-02")
    failed = sample_event("parcel.pickup_failed")
    faulty = failed.model_copy(
        update={"event": failed.event.model_copy(update={"details": {"fault": True}})}
    )
    assert object_event(faulty)["olp:doorFault"] is True
    assert "olp:doorFault" not in object_event(failed)


def test_extensions_can_be_switched_off() -> None:
    doc = document(sample_event("parcel.announced", seq=1), olp_extensions=False)
    assert doc["@context"] == [EPCIS_CONTEXT]
    body = doc["epcisBody"]["eventList"][0]
    assert body["action"] == "ADD"
    assert not [key for key in body if ":" in key]
    assert "ilmd" not in body


@pytest.mark.parametrize(
    ("timezone", "offset"),
    [("America/New_York", "-05:00"), ("Asia/Kolkata", "+05:30"), ("UTC", "+00:00")],
)
def test_time_zone_offset_is_the_lockers(timezone: str, offset: str) -> None:
    event = sample_event()
    assert event.locker is not None
    locker = event.locker.model_copy(update={"timezone": timezone})
    body = object_event(event.model_copy(update={"locker": locker}))
    assert body["eventTimeZoneOffset"] == offset


def test_unknown_or_missing_time_zone_falls_back_to_utc() -> None:
    event = sample_event()
    assert event.locker is not None
    for locker in (None, event.locker.model_copy(update={"timezone": "Mars/Olympus_Mons"})):
        body = object_event(event.model_copy(update={"locker": locker}))
        assert body["eventTimeZoneOffset"] == "+00:00"


def test_a_non_uuid_event_id_stays_a_uri() -> None:
    event = sample_event().model_copy(update={"event_id": "evt 42/a"})
    assert object_event(event)["eventID"] == "urn:openlocker:event:evt%2042%2Fa"


@pytest.mark.parametrize(
    ("config", "complaint"),
    [
        ({"parcel_uri": "urn:x:{parcelId}:{colour}"}, "parcel_uri: unknown placeholder {colour}"),
        ({"parcel_uri": "urn:x:{carrierId}"}, "parcel_uri: must contain {parcelId}"),
        ({"parcel_uri": "parcel {parcelId}"}, "parcel_uri: 'parcel {parcelId}' does not give"),
        ({"parcel_uri": "urn:x:{parcelId!r}"}, "takes no format spec or conversion"),
        ({"parcel_uri": "urn:x:{parcelId"}, "parcel_uri: bad template"),
        ({"location_uri": "urn:x:{networkId}"}, "location_uri: must contain {lockerId}"),
        ({"location_uri": "urn:x:{parcelId}"}, "location_uri: unknown placeholder {parcelId}"),
        ({"url": "ftp://epcis.example"}, "url: expected http(s)"),
        ({"url": "https://user:pw@epcis.example"}, "url: put credentials"),
        ({"url": "https://epcis.example/a?b=1", "capture": True}, "takes no ?query"),
        ({"headers": {"Content-Type": "text/plain"}}, "set content_type instead"),
        ({"headers": {"Bad Header": "x"}}, "headers: bad header"),
        ({"events": ["parcel.teleported"]}, "unknown OLP event type 'parcel.teleported'"),
        ({"events": [PICKUP_REMINDER]}, "not a visibility event"),
    ],
)
def test_bad_config_is_refused_at_construction(config: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        connector(**config)
    assert complaint in str(caught.value)


def test_unknown_config_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="extra"):
        EpcisConfig.model_validate({"url": URL, "parcel_template": "urn:x:{parcelId}"})
