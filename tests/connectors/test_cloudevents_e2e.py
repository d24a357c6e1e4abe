"""End to end: a real gateway sends a carrier's parcel events as CloudEvents, HTTP and MQTT."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiomqtt
from cloudevents.core.bindings.http import HTTPMessage, from_http
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1.http import from_http as legacy_from_http

from gateway.service.connectors import NewAttachment
from tests.support.mosquitto import Mosquitto
from tests.webhooks.conftest import FakeCarrier, running

LIFECYCLE = ["parcel.announced", "parcel.reserved", "parcel.cancelled"]
PARCEL = "CE-0001"


def attachment(name: str, config: dict[str, Any]) -> NewAttachment:
    return NewAttachment(id=name, carrier_id="acme", connector="cloudevents", config=config)


async def test_a_booked_and_cancelled_parcel_arrives_as_cloudevents_over_http_and_mqtt(
    database_url: str, tmp_path: Path
) -> None:
    with Mosquitto(tmp_path / "carrier-broker") as broker:
        async with (
            FakeCarrier() as receiver,
            running(database_url, receiver) as hooks,
            aiomqtt.Client(
                "127.0.0.1",
                broker.port,
                identifier="acme-consumer",
                protocol=aiomqtt.ProtocolVersion.V5,
            ) as consumer,
        ):
            await consumer.subscribe("acme/lockers/#", qos=1)
            connectors = hooks.site.gateway.connectors
            await connectors.add(attachment("ce-binary", {"url": receiver.url("/binary")}))
            structured = {"url": receiver.url("/structured"), "mode": "structured"}
            await connectors.add(attachment("ce-structured", structured))
            mqtt = {
                "transport": "mqtt",
                "broker": {"url": broker.url},
                "topic": "acme/lockers/{lockerId}/{parcelId}",
                "source": "https://lockers.example/{networkId}",
            }
            await connectors.add(attachment("ce-mqtt", mqtt))

            await hooks.book(PARCEL)
            await hooks.cancel(PARCEL)
            await receiver.wait_for(len(LIFECYCLE), path="/binary")
            await receiver.wait_for(len(LIFECYCLE), path="/structured")
            messages = await _take(consumer, len(LIFECYCLE))
            network = hooks.site.gateway.settings.network_id

    for path in ("/binary", "/structured"):
        requests = receiver.delivered(path)
        events = [from_http(HTTPMessage(r.headers, r.body), JSONFormat()) for r in requests]
        assert [e.get_type() for e in events] == [f"org.openlocker.{t}" for t in LIFECYCLE]
        for request, event in zip(requests, events, strict=True):
            assert event.get_source() == f"urn:openlocker:{network}"
            assert event.get_subject() == PARCEL
            data = event.get_data()
            assert isinstance(data, dict)
            assert event.get_id() == data["eventId"]
            assert legacy_from_http(request.headers, request.body)["id"] == data["eventId"]
        binary = path == "/binary"
        assert all(("ce-id" in r.headers) is binary for r in requests)

    topics = {str(m.topic) for m in messages}
    assert topics == {f"acme/lockers/WAW-CENTRAL-01/{PARCEL}"}
    properties = [dict(m.properties.UserProperty) for m in messages]
    assert [p["type"] for p in properties] == [f"org.openlocker.{t}" for t in LIFECYCLE]
    assert {p["source"] for p in properties} == {f"https://lockers.example/{network}"}
    assert all(m.properties.ContentType == "application/json" for m in messages)
    # The same event ids on every target: a carrier can dedupe across channels.
    http_ids = [r.headers["ce-id"] for r in receiver.delivered("/binary")]
    assert [p["id"] for p in properties] == http_ids


async def _take(client: aiomqtt.Client, count: int) -> list[Any]:
    messages: list[aiomqtt.Message] = []

    async def read() -> None:
        async for message in client.messages:
            messages.append(message)
            if len(messages) == count:
                return

    await asyncio.wait_for(read(), 15)
    return messages
