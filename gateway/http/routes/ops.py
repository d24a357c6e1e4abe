"""Operations endpoints: /healthz (liveness), /readyz (readiness), /metrics (Prometheus)."""

from __future__ import annotations

import hmac
import json

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from gateway.errors import AuthenticationFailed, Unavailable
from gateway.http.bodies import json_response
from gateway.http.problems import problem_response
from gateway.http.telemetry import OPS
from gateway.observability.health import OK
from gateway.wire import PROBLEM_MEDIA_TYPE, dump, problem_from_error


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process answers. Checks nothing else on purpose (health.py)."""
    return json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: 200 when the database answers and the broker is connected; else 503
    problem+json whose `checks` say which dependency failed."""
    checks = await request.app[OPS].readiness.check()
    failed = sorted(name for name, verdict in checks.items() if verdict != OK)
    if not failed:
        return json_response({"status": "ready", "checks": checks})
    detail = "not ready: " + "; ".join(f"{name} {checks[name]}" for name in failed)
    problem = problem_from_error(Unavailable(detail), instance=request.path)
    # With its `checks` member: a probe or an operator sees every dependency's verdict, not
    # only the first failure.
    problem = problem.model_copy(update={"checks": checks})
    return web.Response(
        status=problem.status,
        text=json.dumps(dump(problem)),
        content_type=PROBLEM_MEDIA_TYPE,
        headers={"Retry-After": "5"},
    )


async def metrics(request: web.Request) -> web.Response:
    """The Prometheus text exposition of this instance (network-wide figures included)."""
    ops = request.app[OPS]
    if ops.metrics_token is not None:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {ops.metrics_token}".encode()):
            denied = AuthenticationFailed("/metrics needs its bearer token")
            return problem_response(denied, request.path)
    if ops.figures is not None:
        ops.metrics.up.set(1 if await ops.figures.refresh() else 0)
    # The format the scraper asks for (Prometheus text, or OpenMetrics), as the library's
    # own exporter negotiates it.
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encode(ops.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": content_type})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
