"""CloudEvents over MQTT: connector and MqttTransport against a real Mosquitto (carrier broker)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from connectors.cloudevents import CloudEventsConfig, CloudEventsConnector
from gateway.delivery.auth.none import NoAuth
from gateway.delivery.routes import DeliveryPolicy, Route, TargetKind
from gateway.delivery.transports.base import Outcome
from gateway.delivery.transports.mqtt import MqttTransport
from gateway.sdk.connectors import ConnectorEvent, HttpRequest, MqttPublish, Outbound
from gateway.sdk.connectors.samples import sample_event, sample_events
from tests.support.mosquitto import BrokerTls, Mosquitto
from tests.support.pki import TestCa

PASSWORD = "pw-Xq7-never-logged"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as running:
        yield running


def connector(mosquitto: Mosquitto, /, **config: Any) -> CloudEventsConnector:
    settings = {"transport": "mqtt", "broker": {"url": mosquitto.url}, **config}
    return CloudEventsConnector(config=CloudEventsConfig.model_validate(settings))


def route(chosen: CloudEventsConnector, *, timeout_s: float = 5.0) -> Route:
    return Route(
        kind=TargetKind.CONNECTOR,
        target_id="ce-acme",
        carrier_id="acme-post",
        connector=chosen,
        auth=NoAuth(),
        policy=DeliveryPolicy(timeout_s=timeout_s),
    )


async def send(
    transport: MqttTransport, chosen: CloudEventsConnector, event: ConnectorEvent, **kw: Any
) -> Outcome:
    return await transport.send(
        chosen.render(event), route(chosen, **kw), event_id=event.event_id, attempt=1
    )


@contextlib.asynccontextmanager
async def subscriber(
    broker: Mosquitto, *, protocol: int = 5, topic: str = "carriers/#"
) -> AsyncIterator[aiomqtt.Client]:
    """The carrier's consumer, subscribed before anything is sent."""
    version = aiomqtt.ProtocolVersion.V5 if protocol == 5 else aiomqtt.ProtocolVersion.V311
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=f"carrier-{time.monotonic_ns()}", protocol=version
    ) as client:
        await client.subscribe(topic, qos=1)
        yield client


async def take(client: aiomqtt.Client, count: int, *, patience_s: float = 10) -> list[Any]:
    messages: list[aiomqtt.Message] = []

    async def read() -> None:
        async for message in client.messages:
            messages.append(message)
            if len(messages) == count:
                return

    await asyncio.wait_for(read(), patience_s)
    return messages


def topic_of(event: ConnectorEvent) -> str:
    return f"carriers/{event.carrier_id}/parcels/{event.parcel.parcel_id}/events"


def check(parsed: BaseCloudEvent, event: ConnectorEvent) -> None:
    attributes = parsed.get_attributes()
    assert attributes["id"] == event.event_id
    assert attributes["specversion"] == "1.0"
    assert attributes["source"] == f"urn:openlocker:{event.network_id}"
    assert attributes["type"] == f"org.openlocker.{event.type}"
    assert attributes["subject"] == event.parcel.parcel_id
    assert attributes["time"] == event.occurred_at
    assert attributes["datacontenttype"] == "application/json"
    data = parsed.get_data()
    assert isinstance(data, dict)
    assert data["eventId"] == event.event_id
    assert data["parcel"] == event.parcel.model_dump(mode="json")
    assert "recipient" not in data


def from_binary(message: aiomqtt.Message) -> CloudEvent:
    """A carrier's MQTT 5 binary-mode reader: user properties + content type + payload."""
    properties = message.properties
    assert properties is not None
    content_type = getattr(properties, "ContentType", None)
    attributes: dict[str, Any] = dict(getattr(properties, "UserProperty", []))
    attributes["datacontenttype"] = content_type
    attributes["time"] = datetime.fromisoformat(attributes["time"])
    assert isinstance(message.payload, bytes)
    return CloudEvent(attributes, JSONFormat().read_data(message.payload, content_type))


async def test_every_event_type_arrives_in_binary_mode_with_mqtt5_properties(
    broker: Mosquitto,
) -> None:
    # Two attachments naming the same broker: one connection serves both.
    chosen, twin = connector(broker), connector(broker)
    events = sample_events()
    async with subscriber(broker) as carrier, MqttTransport() as transport:
        outcomes = await asyncio.gather(
            *(send(transport, (chosen, twin)[i % 2], e) for i, e in enumerate(events))
        )
        assert all(o == Outcome(ok=True) for o in outcomes), outcomes
        messages = await take(carrier, len(events))
    connects = [
        line for line in broker.log_path.read_text().splitlines() if " as openlocker-" in line
    ]
    assert len(connects) == 1, connects
    # Sent concurrently (different parcels in parallel), so matched by id, not by order.
    by_id = {dict(m.properties.UserProperty)["id"]: m for m in messages}
    assert set(by_id) == {e.event_id for e in events}
    for event in events:
        message = by_id[event.event_id]
        assert str(message.topic) == topic_of(event)
        assert message.qos == 1
        check(from_binary(message), event)


@pytest.mark.parametrize("protocol", [4, 5])
async def test_structured_mode_arrives_as_the_json_event_format(
    broker: Mosquitto, protocol: int
) -> None:
    chosen = connector(broker, mode="structured", broker={"url": broker.url, "protocol": protocol})
    events = [sample_event("parcel.ready_for_pickup"), sample_event("parcel.picked_up", seq=4)]
    async with subscriber(broker, protocol=protocol) as carrier, MqttTransport() as transport:
        for event in events:
            assert (await send(transport, chosen, event)).ok
        messages = await take(carrier, len(events))

    for message, event in zip(messages, events, strict=True):
        assert str(message.topic) == topic_of(event)
        check(JSONFormat().read(None, message.payload), event)
        if protocol == 5:
            assert message.properties.ContentType == "application/cloudevents+json"


async def test_a_stopped_broker_fails_sends_with_an_outcome_until_it_is_back(
    broker: Mosquitto,
) -> None:
    chosen = connector(broker)
    first, during, after = (sample_event("parcel.reserved", seq=n) for n in (2, 3, 4))
    async with MqttTransport() as transport:
        async with subscriber(broker) as carrier:
            assert (await send(transport, chosen, first)).ok
            await take(carrier, 1)

        broker.stop()
        down = await send(transport, chosen, during, timeout_s=2.0)
        assert not down.ok
        assert down.error is not None
        assert f"127.0.0.1:{broker.port}" in down.error
        assert not down.permanent  # the engine retries it

        broker.start()
        async with subscriber(broker) as carrier:
            # The kept connection died with the broker; the very next send reconnects.
            assert (await send(transport, chosen, during)).ok
            assert (await send(transport, chosen, after)).ok
            ids = [m.properties.UserProperty for m in await take(carrier, 2)]
        assert [dict(p)["id"] for p in ids] == [during.event_id, after.event_id]

        # Restarted between two sends: the kept connection is stale, the send reconnects.
        broker.restart()
        async with subscriber(broker) as carrier:
            assert (await send(transport, chosen, first)).ok
            (again,) = await take(carrier, 1)
        assert dict(again.properties.UserProperty)["id"] == first.event_id


async def test_a_silent_broker_times_out_without_holding_up_another(broker: Mosquitto) -> None:
    release = asyncio.Event()

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)  # accept, read CONNECT, never answer
        await release.wait()
        writer.close()

    silent = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    stuck = CloudEventsConnector(
        config=CloudEventsConfig.model_validate(
            {"transport": "mqtt", "broker": {"url": f"mqtt://127.0.0.1:{port}"}}
        )
    )
    healthy = connector(broker)
    events = [sample_event("parcel.expired", seq=n) for n in range(1, 6)]
    async with silent, MqttTransport() as transport:
        started = time.monotonic()
        blocked = asyncio.create_task(send(transport, stuck, events[0], timeout_s=1.5))
        await asyncio.sleep(0.1)  # the silent broker's connect is under way
        for event in events:
            assert (await send(transport, healthy, event)).ok
        assert time.monotonic() - started < 1.0
        outcome = await blocked
        release.set()
    assert not outcome.ok
    assert outcome.error == f"MQTT broker 127.0.0.1:{port}: no connection or PUBACK within 1.5 s"


@pytest.fixture
def locked_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "acme", PASSWORD], check=True)
    passwd.chmod(0o600)
    with Mosquitto(tmp_path / "locked", password_file=passwd) as running:
        yield running


async def test_credentials_work_and_a_wrong_password_is_never_shown(
    locked_broker: Mosquitto, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    event = sample_event("parcel.cancelled")
    good = {"url": locked_broker.url, "username": "acme", "password": PASSWORD}
    wrong = {**good, "password": PASSWORD + "-old"}
    async with MqttTransport() as transport:
        refused = await send(transport, connector(locked_broker, broker=wrong), event)
        accepted = await send(transport, connector(locked_broker, broker=good), event)
    assert not refused.ok
    assert refused.error is not None
    assert "Not authorized" in refused.error or "Bad user name or password" in refused.error
    assert accepted.ok
    assert PASSWORD not in refused.error
    assert PASSWORD not in caplog.text


async def test_tls_with_the_carriers_ca_and_a_client_certificate(tmp_path: Path) -> None:
    ca = TestCa(tmp_path / "pki")
    server, client = ca.server(), ca.client("olp-gateway")
    tls = BrokerTls(
        ca_file=ca.ca_file,
        cert_file=server.cert_file,
        key_file=server.key_file,
        require_certificate=True,
    )
    event = sample_event("parcel.returned")
    with Mosquitto(tmp_path / "tls", tls=tls) as secured:
        spec = {"url": secured.url, "ca_file": str(ca.ca_file)}
        mutual = {**spec, "cert_file": str(client.cert_file), "key_file": str(client.key_file)}
        async with MqttTransport() as transport:
            without = await send(transport, connector(secured, broker=spec), event, timeout_s=1)
            with_cert = await send(transport, connector(secured, broker=mutual), event)
            bad_ca = {**mutual, "ca_file": str(tmp_path / "missing.pem")}
            unreadable = await send(transport, connector(secured, broker=bad_ca), event)
    assert secured.url.startswith("mqtts://")
    assert not without.ok  # the broker wants a client certificate
    assert with_cert.ok
    assert not unreadable.ok
    assert unreadable.error is not None
    assert "FileNotFoundError" in unreadable.error


async def test_what_no_retry_can_fix_is_a_permanent_outcome(broker: Mosquitto) -> None:
    chosen = connector(broker)
    event = sample_event("parcel.announced")
    message = chosen.render(event)
    assert isinstance(message, MqttPublish)
    v311 = message.broker.__class__(url=broker.url, protocol=4)
    cases: list[Outbound] = [
        HttpRequest(url="https://x.example/", body=b"{}"),
        MqttPublish(broker=v311, topic="t", payload=b"{}", content_type="application/json"),
        MqttPublish(broker=message.broker, topic="carriers/#", payload=b"{}"),
        MqttPublish(broker=message.broker.__class__(url="http://h:1883"), topic="t", payload=b""),
    ]
    async with MqttTransport() as transport:
        for case in cases:
            outcome = await transport.send(case, route(chosen), event_id="e", attempt=1)
            assert not outcome.ok
            assert outcome.permanent, outcome
