"""The cloudevents connector: what it renders parses back with the CloudEvents SDK; bad configs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1.http import from_http as legacy_from_http

from connectors.cloudevents import CloudEventsConfig, CloudEventsConnector
from gateway.sdk.connectors import (
    ConnectorConfigError,
    ConnectorEvent,
    HttpRequest,
    MappingError,
    MqttPublish,
)
from gateway.sdk.connectors.samples import sample_event, sample_events
from gateway.sdk.testing.connectors import ConnectorCase, ConnectorContract

URL = "https://events.acme.example/olp"
BROKER = {"url": "mqtt://broker.acme.example:1883", "username": "olp", "password": "s3cret-pw"}
EVENTS = sample_events()


def connector(**config: Any) -> CloudEventsConnector:
    return CloudEventsConnector(config=CloudEventsConfig.model_validate(config))


def http(event: ConnectorEvent, **config: Any) -> HttpRequest:
    request = connector(url=URL, **config).render(event)
    assert isinstance(request, HttpRequest)
    return request


def mqtt(event: ConnectorEvent, **config: Any) -> MqttPublish:
    message = connector(**{"transport": "mqtt", "broker": BROKER, **config}).render(event)
    assert isinstance(message, MqttPublish)
    return message


def expected_data(event: ConnectorEvent) -> dict[str, Any]:
    data: dict[str, Any] = event.model_dump(mode="json")
    del data["recipient"]
    data.pop("access", None)
    return data


def check(parsed: Any, event: ConnectorEvent, *, prefix: str = "org.openlocker") -> None:
    """The attributes and data of an SDK-parsed event (core v2 or legacy v1 API)."""
    get = parsed.get_attributes().get if hasattr(parsed, "get_attributes") else parsed.get
    assert get("specversion") == "1.0"
    assert get("id") == event.event_id
    assert get("source") == f"urn:openlocker:{event.network_id}"
    assert get("type") == f"{prefix}.{event.type}"
    assert get("subject") == event.parcel.parcel_id
    time = get("time")
    if isinstance(time, str):  # the legacy API keeps the string
        assert time == event.model_dump(mode="json")["occurredAt"]
    else:
        assert isinstance(time, datetime)
        assert time == event.occurred_at
    assert get("datacontenttype") == "application/json"
    data = parsed.get_data() if hasattr(parsed, "get_data") else parsed.data
    assert data == expected_data(event)


class TestCloudEventsContract(ConnectorContract):
    @pytest.fixture
    def connector_case(self) -> ConnectorCase:
        return ConnectorCase(
            connector=CloudEventsConnector,
            configs=[
                {"url": URL},
                {"url": URL, "mode": "structured", "headers": {"X-Tenant": "7"}},
                {"transport": "mqtt", "broker": BROKER},
                {"transport": "mqtt", "mode": "structured", "broker": {**BROKER, "protocol": 4}},
            ],
        )


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_http_requests_parse_with_the_sdk(event: ConnectorEvent, mode: str) -> None:
    request = http(event, mode=mode, headers={"X-Tenant": "7"})

    assert request.url == URL
    assert request.method == "POST"
    assert request.headers["X-Tenant"] == "7"
    parsed = from_http(HTTPMessage(dict(request.headers), request.body), JSONFormat())
    check(parsed, event)
    # A receiver on the 1.x SDK API (cloudevents.v1) reads it the same.
    check(legacy_from_http(dict(request.headers), request.body), event)
    if mode == "binary":
        assert request.headers["content-type"] == "application/json"
        assert request.headers["ce-id"] == event.event_id
        assert json.loads(request.body) == expected_data(event)
    else:
        assert request.headers["content-type"] == "application/cloudevents+json"
        assert not any(name.startswith("ce-") for name in request.headers)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
def test_mqtt5_binary_mode_maps_attributes_to_user_properties(event: ConnectorEvent) -> None:
    message = mqtt(event)

    assert message.topic == f"carriers/{event.carrier_id}/parcels/{event.parcel.parcel_id}/events"
    assert message.qos == 1
    assert message.content_type == "application/json"
    # The binding: every attribute but datacontenttype, under its own name, as a string.
    assert set(message.user_properties) == {
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
    }
    assert message.user_properties["time"] == event.model_dump(mode="json")["occurredAt"]
    attributes: dict[str, Any] = dict(message.user_properties)
    attributes["datacontenttype"] = message.content_type
    attributes["time"] = datetime.fromisoformat(attributes["time"])
    data = JSONFormat().read_data(message.payload, message.content_type)
    check(CloudEvent(attributes, data), event)


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.type)
@pytest.mark.parametrize("protocol", [4, 5])
def test_mqtt_structured_mode_is_the_json_event_format(
    event: ConnectorEvent, protocol: int
) -> None:
    message = mqtt(event, mode="structured", broker={**BROKER, "protocol": protocol})

    # MQTT 3.1.1 has no Content Type: the JSON event format is implied there.
    expected = "application/cloudevents+json" if protocol == 5 else None
    assert message.content_type == expected
    assert message.user_properties == {}
    check(JSONFormat().read(None, message.payload), event)


def test_broker_settings_become_one_broker_spec() -> None:
    tls = {"url": "mqtts://b.acme.example:8883", "ca_file": "/etc/ca.pem", "client_id": "olp-1"}
    chosen = connector(transport="mqtt", broker={**BROKER, **tls})
    first, second = chosen.render(EVENTS[0]), chosen.render(EVENTS[1])
    assert isinstance(first, MqttPublish)
    assert isinstance(second, MqttPublish)
    assert first.broker is second.broker  # one connection for every event
    spec = first.broker
    assert (spec.url, spec.username, spec.client_id, spec.protocol, spec.ca_file) == (
        "mqtts://b.acme.example:8883",
        "olp",
        "olp-1",
        5,
        "/etc/ca.pem",
    )
    assert spec.password is not None
    assert spec.password.get_secret_value() == "s3cret-pw"
    assert "s3cret-pw" not in repr(chosen.config) + repr(spec)


def test_templates_source_and_type_prefix_are_configurable() -> None:
    event = sample_event("parcel.collected", carrier_id="acme", network_id="waw-net")
    message = mqtt(
        event,
        topic="olp/{networkId}/{lockerId}/{type}/{eventId}",
        source="https://lockers.example/{networkId}/{carrierId}",
        type_prefix="com.acme.lockers",
        qos=0,
    )
    assert message.topic == f"olp/waw-net/WAW-CENTRUM-01/parcel.collected/{event.event_id}"
    assert message.qos == 0
    assert message.user_properties["source"] == "https://lockers.example/waw-net/acme"
    assert message.user_properties["type"] == "com.acme.lockers.parcel.collected"


def test_an_id_that_would_split_a_topic_is_a_mapping_error() -> None:
    event = sample_event("parcel.collected")
    odd = event.model_copy(update={"carrier_id": "acme/+"})
    with pytest.raises(MappingError) as caught:
        mqtt(odd)
    assert caught.value.issues[0].pointer == "/carrierId"
    # Not named in the topic, not checked: the event id is only in a user property.
    mqtt(odd, topic="parcels/{parcelId}")


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"transport": "mqtt", "broker": {**BROKER, "protocol": 4}}, "mode"),
        ({"url": "ftp://events.acme.example/in"}, "url"),
        ({"url": "mqtt://events.acme.example"}, "url"),
        ({}, "url"),
        ({"url": URL, "headers": {"ce-id": "forged"}}, "headers.ce-id"),
        ({"url": URL, "broker": BROKER}, "broker"),
        ({"url": URL, "events": ["parcel.lost"]}, "events[0]"),
        ({"url": URL, "source": "urn:x:{lockerId}"}, "source"),
        ({"url": URL, "type_prefix": "org..openlocker"}, "type_prefix"),
        ({"transport": "mqtt"}, "broker"),
        ({"transport": "mqtt", "broker": BROKER, "url": URL}, "url"),
        ({"transport": "mqtt", "broker": {**BROKER, "url": "http://b:1883"}}, "broker.url"),
        (
            {"transport": "mqtt", "broker": {**BROKER, "url": "mqtt://u:pw@b.example:1883"}},
            "broker.url",
        ),
        ({"transport": "mqtt", "broker": {**BROKER, "key_file": "/k.pem"}}, "broker.key_file"),
        ({"transport": "mqtt", "broker": BROKER, "topic": "c/{carrier}/events"}, "topic"),
        ({"transport": "mqtt", "broker": BROKER, "topic": "c/{parcelId!r}"}, "topic"),
        ({"transport": "mqtt", "broker": BROKER, "topic": "c/{parcelId:>9}"}, "topic"),
        ({"transport": "mqtt", "broker": BROKER, "topic": "c/{0}"}, "topic"),
        ({"transport": "mqtt", "broker": BROKER, "topic": "c/{parcelId"}, "topic"),
        ({"transport": "mqtt", "broker": BROKER, "topic": "carriers/+/events"}, "topic"),
        ({"transport": "mqtt", "broker": BROKER, "topic": "$SYS/{parcelId}"}, "topic"),
        ({"transport": "mqtt", "broker": BROKER, "topic": ""}, "topic"),
    ],
)
def test_bad_configs_fail_at_construction_naming_the_field(
    config: dict[str, Any], named: str
) -> None:
    model = CloudEventsConfig.model_validate(config)
    with pytest.raises(ConnectorConfigError) as caught:
        CloudEventsConnector(config=model)
    assert f"cloudevents: {named}:" in caught.value.description
    for secret in ("s3cret-pw", "forged", ":pw@"):
        assert secret not in caught.value.description
