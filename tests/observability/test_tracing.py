"""OpenTelemetry traces (`[tracing]`) on the running gateway: a real broker, the emulator and a
webhook receiver, spans caught by the SDK's in-memory exporter (or a real OTLP/HTTP server).

A remote open is one trace from its HTTP request to the MQTT command; a caller's
`traceparent` is continued; a delivery continues the trace of the transition that queued it
and sends its `traceparent` to the receiver; the trace id is the correlation id."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import aiomqtt
import httpx
import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, format_span_id, format_trace_id

from gateway.app import Gateway
from gateway.observability import tracing
from gateway.observability.tracing_otel import CORRELATION_ATTRIBUTE, OtelTracing
from gateway.settings import TracingSettings
from tests.http.conftest import settings_for
from tests.observability.conftest import TelemetrySite, eventually, running_site
from tests.webhooks.conftest import FakeCarrier

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
NO_EXPORT = {"enabled": True, "exporter": "none"}


@dataclass
class Traced:
    site: TelemetrySite
    exporter: InMemorySpanExporter

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans() if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, [span.name for span in self.spans()]
        return found[0]


@pytest.fixture
async def traced(database_url: str, tmp_path: Path) -> AsyncIterator[Traced]:
    async with running_site(database_url, tmp_path, tracing=NO_EXPORT) as site:
        tracer = tracing.active()
        assert isinstance(tracer, OtelTracing)
        exporter = InMemorySpanExporter()
        tracer.provider.add_span_processor(SimpleSpanProcessor(exporter))
        yield Traced(site, exporter)
    assert tracing.active() is None  # the gateway took its tracer with it


def trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format_trace_id(span.context.trace_id)


def span_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format_span_id(span.context.span_id)


def parent_id(span: ReadableSpan) -> str | None:
    return None if span.parent is None else format_span_id(span.parent.span_id)


async def book(site: TelemetrySite, parcel_id: str, **headers: str) -> httpx.Response:
    body = {"parcelId": parcel_id, "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"}
    headers = {**site._auth(), "Idempotency-Key": f"book-{parcel_id}", **headers}
    booked = await site.client.post("/v1/parcels", json=body, headers=headers)
    assert booked.status_code == 201, booked.text
    return booked


async def subscribe(site: TelemetrySite) -> None:
    assert site.receiver is not None
    subscribed = await site.post("/v1/webhooks", {"url": site.receiver.url()}, key="subscribe-1")
    assert subscribed.status_code == 201, subscribed.text


async def test_a_remote_open_is_one_trace_from_request_to_command(traced: Traced) -> None:
    site = traced.site
    await book(site, "TR-1")
    async with aiomqtt.Client(
        "127.0.0.1", site.broker.port, protocol=aiomqtt.ProtocolVersion.V5
    ) as watcher:
        await watcher.subscribe("olp/v1/WAW-CENTRAL-01/cmd/OpenCompartment", qos=1)
        headers = {**site._auth(), "Idempotency-Key": "open-TR-1"}
        opened = await site.client.post("/v1/parcels/TR-1/open", json={}, headers=headers)
        assert opened.status_code == 200, opened.text
        async with asyncio.timeout(5):
            sent = await anext(aiter(watcher.messages))

    request = traced.one("POST /v1/parcels/{parcel_id}/open")
    command = traced.one("OpenCompartment")
    assert request.kind is SpanKind.SERVER
    assert command.kind is SpanKind.CLIENT
    assert trace_id(command) == trace_id(request)
    assert parent_id(command) == span_id(request)
    assert request.attributes is not None
    assert command.attributes is not None
    assert request.attributes["http.route"] == "/v1/parcels/{parcel_id}/open"
    assert request.attributes["http.response.status_code"] == 200
    assert command.attributes["olp.outcome"] == "result"
    assert command.attributes["openlocker.locker_id"] == "WAW-CENTRAL-01"
    # The command itself carries its span's context (MQTT 5 user property) to the locker.
    assert str(sent.topic) == "olp/v1/WAW-CENTRAL-01/cmd/OpenCompartment"
    assert sent.properties is not None
    user = dict(getattr(sent.properties, "UserProperty", []))
    assert user["traceparent"] == f"00-{trace_id(command)}-{span_id(command)}-01"
    # No traceparent came in: the trace started here, under the request's correlation id.
    assert request.parent is None
    assert trace_id(request) == opened.headers["X-Request-Id"]
    assert request.attributes[CORRELATION_ATTRIBUTE] == opened.headers["X-Request-Id"]


async def test_an_incoming_traceparent_is_continued(traced: Traced) -> None:
    site = traced.site
    booked = await book(site, "TR-2", traceparent=TRACEPARENT)
    request = traced.one("POST /v1/parcels")
    assert trace_id(request) == TRACE_ID
    assert parent_id(request) == PARENT_ID
    assert request.parent is not None
    assert request.parent.is_remote
    # The correlation id is still the trace id (log lines and X-Request-Id, as before).
    assert booked.headers["X-Request-Id"] == TRACE_ID

    # A caller's own X-Request-Id stays the correlation id; the span names it.
    own = await book(site, "TR-3", traceparent=TRACEPARENT, **{"X-Request-Id": "req-tr-3"})
    assert own.headers["X-Request-Id"] == "req-tr-3"
    second = [s for s in traced.named("POST /v1/parcels") if s is not request]
    assert len(second) == 1
    assert trace_id(second[0]) == TRACE_ID
    assert second[0].attributes is not None
    assert second[0].attributes[CORRELATION_ATTRIBUTE] == "req-tr-3"


async def test_a_client_error_is_not_a_failed_span(traced: Traced) -> None:
    # aiohttp raises its 404 for an unknown path: an answer, not an exception event.
    answer = await traced.site.client.get("/no/such/path")
    assert answer.status_code == 404
    span = traced.one("GET unmatched")
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 404
    assert span.status.status_code is StatusCode.UNSET
    assert span.events == ()


async def test_a_webhook_carries_the_trace_of_the_transition_that_queued_it(
    traced: Traced,
) -> None:
    site = traced.site
    receiver = site.receiver
    assert receiver is not None
    await subscribe(site)
    booked = await book(site, "TR-4", traceparent=TRACEPARENT)
    booking = ("parcel.announced", "parcel.reserved")
    await receiver.wait_for(len(booking))

    # Booked over HTTP: each delivery's span is a child of the booking's request span (the
    # outbox row kept its traceparent), and the receiver got the delivery span's context.
    request = traced.one("POST /v1/parcels")
    for event_type in booking:
        (sent,) = [r for r in receiver.delivered() if r.json()["type"] == event_type]
        name = f"deliver {event_type}"
        await eventually(partial(_spans, traced, name), 1)
        delivery = traced.one(name)
        assert delivery.kind is SpanKind.PRODUCER
        assert trace_id(delivery) == TRACE_ID
        assert parent_id(delivery) == span_id(request)
        assert sent.headers["traceparent"] == f"00-{TRACE_ID}-{span_id(delivery)}-01"
        assert delivery.attributes is not None
        assert delivery.attributes["http.response.status_code"] == 204
        assert delivery.attributes["openlocker.delivered"] is True

    # Deposited by the locker: the transition is a locker event's, so is the trace. Its
    # span's trace id is the locker message's UUID, which is the correlation id of its logs.
    headers = {**site._auth(), "Idempotency-Key": "open-TR-4"}
    opened = await site.client.post("/v1/parcels/TR-4/open", json={}, headers=headers)
    assert opened.status_code == 200, opened.text
    site.locker.deposit(booked.json()["compartmentCode"])
    await site.wait_state("TR-4", "ready_for_pickup")
    await eventually(lambda: _typed(receiver, "parcel.ready_for_pickup"), 1)
    (ready,) = [r for r in receiver.delivered() if r.json()["type"] == "parcel.ready_for_pickup"]
    await eventually(lambda: _count(traced.named("deliver parcel.ready_for_pickup")), 1)
    delivery = traced.one("deliver parcel.ready_for_pickup")
    (event,) = [s for s in traced.spans() if span_id(s) == parent_id(delivery)]
    assert event.kind is SpanKind.CONSUMER
    assert event.name.startswith("locker ")
    assert event.parent is None
    assert event.attributes is not None
    message_id = str(event.attributes[CORRELATION_ATTRIBUTE])
    assert trace_id(event) == message_id.replace("-", "")
    assert trace_id(delivery) == trace_id(event) != TRACE_ID
    assert ready.headers["traceparent"] == f"00-{trace_id(event)}-{span_id(delivery)}-01"


async def test_a_webhook_body_carries_none_of_the_outbox_s_own_keys(traced: Traced) -> None:
    """The outbox row keeps the queuing span's `traceparent` (and the correlation id) in its
    JSON body; the carrier receives the event alone, the trace only in the header."""
    site = traced.site
    receiver = site.receiver
    assert receiver is not None
    await subscribe(site)
    await book(site, "TR-6", traceparent=TRACEPARENT)
    await receiver.wait_for(2)
    for received in receiver.delivered():
        assert received.headers["traceparent"].startswith(f"00-{TRACE_ID}-")
        assert b"_traceparent" not in received.body, received.body
        assert b"_correlationId" not in received.body, received.body
        assert not [key for key in received.json() if key.startswith("_")], received.json()


async def test_off_by_default_nothing_is_traced_nor_sent(telemetry_site: TelemetrySite) -> None:
    site = telemetry_site
    assert site.gateway.settings.tracing.enabled is False
    assert tracing.active() is None
    await subscribe(site)
    booked = await book(site, "TR-5", traceparent=TRACEPARENT)
    assert booked.headers["X-Request-Id"] == TRACE_ID  # traceparent still seeds the id
    assert site.receiver is not None
    await site.receiver.wait_for(1)
    assert "traceparent" not in site.receiver.delivered()[0].headers


async def test_spans_reach_an_otlp_collector(database_url: str) -> None:
    """exporter = "otlp": OTLP/HTTP protobuf to a real HTTP server, flushed when the gateway
    stops."""
    received: list[ExportTraceServiceRequest] = []

    async def collect(request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        export = ExportTraceServiceRequest()
        export.ParseFromString(await request.read())
        received.append(export)
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", collect)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        otlp = {
            "enabled": True,
            "exporter": "otlp",
            "otlp_endpoint": f"http://127.0.0.1:{port}/v1/traces",
            "service_name": "locker-net-test",
        }
        settings = settings_for(database_url, tracing=otlp, instance="gw-otlp")
        async with Gateway(settings=settings) as gateway:
            async with httpx.AsyncClient(base_url=gateway.base_url) as client:
                answer = await client.get("/v1/lockers/NOPE", headers={"traceparent": TRACEPARENT})
            # The batch processor exports from its own thread: wait off the event loop.
            await asyncio.to_thread(_flush, gateway)
        names = _exported(received)
        assert ("locker-net-test", "gw-otlp", "GET /v1/lockers/{locker_id}", TRACE_ID) in names
        assert answer.status_code in (401, 404)
    finally:
        await runner.cleanup()


async def test_the_console_exporter_writes_spans_to_stdout(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    console = {"enabled": True, "exporter": "console"}
    async with (
        Gateway(settings=settings_for(database_url, tracing=console)) as gateway,
        httpx.AsyncClient(base_url=gateway.base_url) as client,
    ):
        answer = await client.get("/healthz", headers={"traceparent": TRACEPARENT})
        assert answer.status_code == 200
    out = capsys.readouterr().out  # flushed when the gateway stopped
    assert '"name": "GET /healthz"' in out
    assert f'"trace_id": "0x{TRACE_ID}"' in out


async def test_one_tracing_gateway_per_process() -> None:
    options = TracingSettings(enabled=True, exporter="none")
    async with tracing.installed(options, instance="gw-1"):
        with pytest.raises(ValueError, match="already enabled by another gateway"):
            async with tracing.installed(options, instance="gw-2"):
                pass
        assert tracing.active() is not None
    assert tracing.active() is None
    async with tracing.installed(TracingSettings(), instance="gw-3") as nothing:
        assert nothing is None  # off: OpenTelemetry not involved at all
        assert tracing.active() is None


def _flush(gateway: Gateway) -> None:
    tracer = tracing.active()
    assert isinstance(tracer, OtelTracing)
    assert tracer.provider.force_flush(10_000)


def _exported(
    received: Sequence[ExportTraceServiceRequest],
) -> set[tuple[str, str, str, str]]:
    names: set[tuple[str, str, str, str]] = set()
    for export in received:
        for spans in export.resource_spans:
            resource = {a.key: a.value.string_value for a in spans.resource.attributes}
            for scope in spans.scope_spans:
                for span in scope.spans:
                    names.add(
                        (
                            resource["service.name"],
                            resource["service.instance.id"],
                            span.name,
                            span.trace_id.hex(),
                        )
                    )
    return names


def test_start_up_names_the_extra_when_opentelemetry_is_missing(tmp_path: Path) -> None:
    """`openlocker serve` with tracing on and OpenTelemetry not importable: exit 2, and the
    message says what to install (the import is blocked the way a missing package fails)."""
    script = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "from gateway.cli import main\n"
        "sys.exit(main(['serve', '--http-port', '0']))\n"
    )
    env = {
        **os.environ,
        "OPENLOCKER_TRACING__ENABLED": "true",
        "OPENLOCKER_STORE__DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert 'pip install "openlocker[tracing]"' in done.stderr
    assert "opentelemetry" in done.stderr


async def _count(found: list[ReadableSpan]) -> int:
    return len(found)


async def _spans(traced: Traced, name: str) -> int:
    return len(traced.named(name))


async def _typed(receiver: FakeCarrier, event_type: str) -> int:
    return sum(1 for r in receiver.delivered() if r.json()["type"] == event_type)
