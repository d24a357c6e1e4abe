"""Optional OpenTelemetry traces: the switch and the few calls the rest of the gateway makes.

Off by default, and then free: every call below reads one module global and returns a shared
do-nothing context (no span, no allocation), and OpenTelemetry is not even imported. With
`[tracing] enabled = true` the gateway installs `tracing_otel.OtelTracing` (it needs the
`tracing` extra: opentelemetry-api and -sdk) for as long as it runs, and these calls make

- a SERVER span per HTTP request, named `METHOD /route/{template}`, continuing the caller's
  W3C `traceparent` (gateway/http/telemetry.py);
- a CLIENT span per command sent to a locker (adapters, through gateway.sdk.telemetry);
- a CONSUMER span per locker event the gateway applies (gateway/service/locker_host.py);
- a PRODUCER span per delivery attempt of an outbox row, child of the span that queued the row
  (its `traceparent` is kept in the row beside the correlation id), whose context goes out in
  the request's `traceparent` header (gateway/delivery).

The correlation id and the trace id agree: a caller's `traceparent` gives both; otherwise a
span that starts a trace takes the correlation id as its trace id whenever that id is 32 hex
digits (dashes ignored: a new request id, a locker message's UUID). A caller's own
`X-Request-Id` of another shape stays the correlation id, and the span carries it as the
attribute `openlocker.correlation_id`.

Process-wide: OpenTelemetry's context is one per process, and so is this switch; one gateway
per process enables it (a second one refuses to start).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, MutableMapping
from contextlib import AbstractContextManager
from typing import Protocol

__all__ = [
    "EXTRA",
    "HttpSpan",
    "Tracing",
    "TracingOptions",
    "active",
    "command_span",
    "delivery_span",
    "event_span",
    "inject",
    "installed",
    "note",
    "server_span",
    "traceparent",
]

EXTRA = "tracing"  # pip install "openlocker[tracing]"


class TracingOptions(Protocol):
    """`[tracing]` (gateway.settings.TracingSettings), as this module reads it."""

    @property
    def enabled(self) -> bool: ...
    @property
    def exporter(self) -> str: ...
    @property
    def service_name(self) -> str: ...
    @property
    def otlp_endpoint(self) -> str | None: ...


class HttpSpan(Protocol):
    def finished(self, route: str, status: int) -> None:
        """The request ended with `status`; `route` is its template (the span's name)."""


class Tracing(Protocol):
    """What an installed tracer does (tracing_otel.OtelTracing); see the functions below."""

    def server_span(
        self, method: str, headers: Mapping[str, str]
    ) -> AbstractContextManager[HttpSpan]: ...

    def command_span(self, action: str, locker_id: str) -> AbstractContextManager[object]: ...

    def event_span(
        self, kind: str, locker_id: str, event_id: str
    ) -> AbstractContextManager[object]: ...

    def delivery_span(
        self, parent: str | None, target: str, event_type: str, event_id: str, attempt: int
    ) -> AbstractContextManager[object]: ...

    def traceparent(self) -> str | None: ...

    def inject(self, headers: MutableMapping[str, str]) -> None: ...

    def note(self, key: str, value: str | int | bool) -> None: ...

    def shutdown(self) -> None: ...


_active: Tracing | None = None
# Shared by every call while tracing is off: entering it allocates nothing.
_NOTHING: AbstractContextManager[None] = contextlib.nullcontext()


def active() -> Tracing | None:
    """The installed tracer, or None while tracing is off."""
    return _active


def server_span(method: str, headers: Mapping[str, str]) -> AbstractContextManager[HttpSpan | None]:
    """The span of one HTTP request (None inside while off); call `finished` before leaving."""
    tracer = _active
    return _NOTHING if tracer is None else tracer.server_span(method, headers)


def command_span(action: str, locker_id: str) -> AbstractContextManager[object]:
    """The span of one command sent to a locker, from sending to its reply or timeout."""
    tracer = _active
    return _NOTHING if tracer is None else tracer.command_span(action, locker_id)


def event_span(kind: str, locker_id: str, event_id: str) -> AbstractContextManager[object]:
    """The span of one locker event applied by the gateway (`kind`: its type's name)."""
    tracer = _active
    return _NOTHING if tracer is None else tracer.event_span(kind, locker_id, event_id)


def delivery_span(
    parent: str | None, target: str, event_type: str, event_id: str, attempt: int
) -> AbstractContextManager[object]:
    """The span of one delivery attempt, child of `parent` (the `traceparent` stored with the
    outbox row by the work that queued it; None: a trace of its own)."""
    tracer = _active
    if tracer is None:
        return _NOTHING
    return tracer.delivery_span(parent, target, event_type, event_id, attempt)


def traceparent() -> str | None:
    """The W3C `traceparent` of the span in hand (kept with an outbox row), or None."""
    tracer = _active
    return None if tracer is None else tracer.traceparent()


def inject(headers: MutableMapping[str, str]) -> None:
    """Add the span in hand's `traceparent` (and `tracestate`) to an outgoing request's
    headers; a header the request already has is left as it is."""
    tracer = _active
    if tracer is not None:
        tracer.inject(headers)


def note(key: str, value: str | int | bool) -> None:
    """Set an attribute on the span in hand (an outcome, an id learnt mid-way)."""
    tracer = _active
    if tracer is not None:
        tracer.note(key, value)


@contextlib.asynccontextmanager
async def installed(settings: TracingOptions, *, instance: str) -> AsyncIterator[Tracing | None]:
    """Tracing as `settings` say, for the block: nothing at all when disabled; else the
    OpenTelemetry SDK with the configured exporter, flushed and removed at the end.

    ValueError (start-up refuses) when it is enabled but the `tracing` extra is missing, or
    when another gateway of this process already traces."""
    global _active
    if not settings.enabled:
        yield None
        return
    try:
        from gateway.observability import tracing_otel
    except ImportError as err:
        raise ValueError(
            f"[tracing] enabled = true needs OpenTelemetry ({err.name} is missing): "
            f'pip install "openlocker[{EXTRA}]"'
        ) from err
    if _active is not None:
        raise ValueError("[tracing] is already enabled by another gateway in this process")
    tracer = tracing_otel.OtelTracing.from_settings(settings, instance=instance)
    _active = tracer
    try:
        yield tracer
    finally:
        _active = None
        # The last spans are exported now: off the event loop, since an OTLP collector that
        # does not answer holds this up to the exporter's timeout (10 s).
        await asyncio.to_thread(tracer.shutdown)
