"""The outermost middleware: a correlation id per request, its latency, one access-log line.

The id comes from the caller (`X-Request-Id`, else `traceparent`'s trace id) or is made here,
is current for everything the request does (log lines, MQTT commands, outbox rows written in
its transaction) and goes back in the answer's `X-Request-Id`. Latency is observed by route
*template* (`/v1/parcels/{parcelId}`), never the raw path, whose ids would make a time series
per parcel.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.observability import correlation, tracing
from gateway.observability.figures import NetworkFigures
from gateway.observability.health import Readiness
from gateway.observability.metrics import Metrics

access_log = logging.getLogger("gateway.http.access")
REQUEST_ID = web.RequestKey("request_id", str)
# Anything else a client may send as a method is one label value, not one series each.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
_QUIET = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True, slots=True)
class Ops:
    """What the telemetry middleware and the /metrics, /readyz routes need."""

    metrics: Metrics
    figures: NetworkFigures | None
    readiness: Readiness
    metrics_token: str | None = None  # None: /metrics is open on this listener


OPS = web.AppKey("ops", Ops)


def install(app: web.Application, ops: Ops) -> None:
    """Put the middleware first (it times and stamps what the others answer)."""
    app[OPS] = ops
    app.middlewares.insert(0, telemetry_middleware)
    app.on_response_prepare.append(_echo_request_id)


@web.middleware
async def telemetry_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = correlation.from_headers(request.headers)
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    status = 500
    # The span inside the binding: a trace it starts takes the correlation id as trace id.
    with correlation.bind(request_id), tracing.server_span(request.method, request.headers) as span:
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as err:
            status = err.status
            raise
        finally:
            elapsed = time.perf_counter() - started
            route = _template(request)
            method = request.method if request.method in _METHODS else "OTHER"
            request.app[OPS].metrics.http_request(route, method, status, elapsed)
            if span is not None:
                span.finished(route, status)
            # Probes and scrapes come every few seconds: their successes only at DEBUG.
            level = logging.DEBUG if route in _QUIET and status < 400 else logging.INFO
            # The path, not the query: a query string is the caller's and may hold anything.
            # A self-service page's path carries its link's bearer token: logged as the template.
            path = route if request.path.startswith(_TOKEN_IN_PATH) else request.path
            access_log.log(level, "%s %s %d %.1f ms", request.method, path, status, elapsed * 1000)


# Paths whose segments are credentials (gateway/http/recipient_page.py).
_TOKEN_IN_PATH = "/self-service/"  # noqa: S105 - a path prefix, not a secret


def _template(request: web.Request) -> str:
    route = request.match_info.route
    resource = route.resource if route is not None else None
    if resource is None or request.match_info.http_exception is not None:
        return UNMATCHED
    return resource.canonical


async def _echo_request_id(request: web.Request, response: web.StreamResponse) -> None:
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers["X-Request-Id"] = request_id
