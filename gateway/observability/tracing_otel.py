"""The OpenTelemetry side of `gateway.observability.tracing`: imported only when enabled.

The SDK's TracerProvider is this gateway's own, not OpenTelemetry's global one: installing
it changes nothing for other code in the process, and it goes away with the gateway. The W3C
Trace Context propagator is used directly for the same reason.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType

from aiohttp import web
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import gateway
from gateway.observability import correlation
from gateway.observability.tracing import TracingOptions

log = logging.getLogger(__name__)

CORRELATION_ATTRIBUTE = "openlocker.correlation_id"
_HEX_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
_PROPAGATOR = TraceContextTextMapPropagator()
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class CorrelatedIds(RandomIdGenerator):
    """A trace started here takes the correlation id in hand as its trace id when it can
    serve as one (32 hex digits once dashes are dropped: our new ids, a locker message's
    UUID), so a log line's `correlation_id` finds its trace; otherwise a random one."""

    def generate_trace_id(self) -> int:
        cid = correlation.current()
        if cid is not None:
            digits = cid.replace("-", "").lower()
            if _HEX_TRACE_ID.match(digits) and digits != "0" * 32:
                return int(digits, 16)
        return super().generate_trace_id()

    def is_trace_id_random(self) -> bool:
        return False  # UUIDs keep their version digits; callers' ids may be anything


class _ServerSpan:
    """The SERVER span of one HTTP request, current for the handler and all it starts."""

    def __init__(self, tracer: trace.Tracer, method: str, headers: Mapping[str, str]) -> None:
        parent = _PROPAGATOR.extract(headers)
        # A method outside HTTP's own set is "HTTP" (semantic conventions): bounded names.
        self._method = method if method in _METHODS else "HTTP"
        self._span = tracer.start_span(
            self._method,  # renamed `METHOD /route/{template}` once routed
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": self._method},
        )
        _correlate(self._span)
        self._use: AbstractContextManager[Span] = trace.use_span(
            self._span, end_on_exit=True, record_exception=False, set_status_on_exception=False
        )

    def __enter__(self) -> _ServerSpan:
        self._use.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # aiohttp raises its answers (404, redirects): only a real failure is an exception
        # event; the status comes from `finished` either way.
        if isinstance(exc, Exception) and not isinstance(exc, web.HTTPException):
            self._span.record_exception(exc)
        self._use.__exit__(exc_type, exc, tb)

    def finished(self, route: str, status: int) -> None:
        self._span.update_name(f"{self._method} {route}")
        self._span.set_attribute("http.route", route)
        self._span.set_attribute("http.response.status_code", status)
        if status >= 500:  # a client's error is not the server's (semantic conventions)
            self._span.set_status(Status(StatusCode.ERROR))


def _correlate(span: Span) -> None:
    cid = correlation.current()
    if cid is not None and span.is_recording():
        span.set_attribute(CORRELATION_ATTRIBUTE, cid)


class OtelTracing:
    """One gateway's tracer: its provider, exporter and the spans `tracing` asks for."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self._tracer = provider.get_tracer("openlocker", gateway.__version__)

    @classmethod
    def from_settings(cls, settings: TracingOptions, *, instance: str) -> OtelTracing:
        resource = Resource.create(
            {
                "service.name": settings.service_name,
                "service.instance.id": instance,
                "service.version": gateway.__version__,
            }
        )
        provider = TracerProvider(
            resource=resource, id_generator=CorrelatedIds(), shutdown_on_exit=False
        )
        processor = _processor(settings)
        if processor is not None:
            provider.add_span_processor(processor)
        return cls(provider)

    def server_span(self, method: str, headers: Mapping[str, str]) -> _ServerSpan:
        return _ServerSpan(self._tracer, method, headers)

    def command_span(self, action: str, locker_id: str) -> AbstractContextManager[object]:
        return self._started(
            action,
            None,
            SpanKind.CLIENT,
            {"messaging.system": "mqtt", "olp.action": action, "openlocker.locker_id": locker_id},
        )

    def event_span(
        self, kind: str, locker_id: str, event_id: str
    ) -> AbstractContextManager[object]:
        return self._started(
            f"locker {kind}",
            None,
            SpanKind.CONSUMER,
            {"openlocker.locker_id": locker_id, "openlocker.event_id": event_id},
        )

    def delivery_span(
        self, parent: str | None, target: str, event_type: str, event_id: str, attempt: int
    ) -> AbstractContextManager[object]:
        context = None if parent is None else _PROPAGATOR.extract({"traceparent": parent})
        return self._started(
            f"deliver {event_type}",
            context,
            SpanKind.PRODUCER,
            {
                "openlocker.target": target,
                "openlocker.event_id": event_id,
                "openlocker.event_type": event_type,
                "openlocker.attempt": attempt,
            },
        )

    @contextmanager
    def _started(
        self,
        name: str,
        context: Context | None,
        kind: SpanKind,
        attributes: dict[str, str | int],
    ) -> Iterator[object]:
        with self._tracer.start_as_current_span(
            name, context=context, kind=kind, attributes=attributes
        ) as span:
            _correlate(span)
            yield span

    def traceparent(self) -> str | None:
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get("traceparent")

    def inject(self, headers: MutableMapping[str, str]) -> None:
        if any(name.lower() == "traceparent" for name in headers):
            return  # the connector or its auth plugin set its own
        _PROPAGATOR.inject(headers)

    def note(self, key: str, value: str | int | bool) -> None:
        trace.get_current_span().set_attribute(key, value)

    def shutdown(self) -> None:
        # Flushes what the batch processor holds (console: at once; OTLP: bounded by its
        # own export timeout).
        self.provider.shutdown()


def _processor(settings: TracingOptions) -> SpanProcessor | None:
    if settings.exporter == "none":
        # Spans are still made and propagated (traceparent in, out to webhooks), not exported.
        return None
    if settings.exporter == "console":
        # sys.stdout as it is now, not as it was when the SDK was imported (its default).
        exporter: SpanExporter = ConsoleSpanExporter(out=sys.stdout)
    else:
        exporter = _otlp(settings)
    return BatchSpanProcessor(exporter)


def _otlp(settings: TracingOptions) -> SpanExporter:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as err:
        raise ValueError(
            '[tracing] exporter = "otlp" needs opentelemetry-exporter-otlp-proto-http: '
            'pip install "openlocker[tracing]"'
        ) from err
    return OTLPSpanExporter(endpoint=settings.otlp_endpoint)
