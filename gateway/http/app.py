"""Builds the aiohttp application: middlewares, routes, body limit."""

from __future__ import annotations

from aiohttp import web

from gateway.http.context import DEPS, HttpDeps
from gateway.http.middleware import auth_middleware, problem_middleware
from gateway.http.routes import (
    connectors,
    deliveries,
    doors,
    grants,
    lockers,
    meta,
    parcels,
    webhooks,
    wellknown,
)
from gateway.service.inbound import InboundService


def build_http_app(deps: HttpDeps, *, max_body_bytes: int) -> web.Application:
    app = web.Application(
        middlewares=[problem_middleware, auth_middleware], client_max_size=max_body_bytes
    )
    app[DEPS] = deps
    meta.add_routes(app)
    lockers.add_routes(app)
    parcels.add_routes(app)
    doors.add_routes(app)
    grants.add_routes(app)
    webhooks.add_routes(app)
    deliveries.add_routes(app)
    connectors.add_routes(
        app,
        InboundService(parcels=deps.parcels, spec=deps.spec, attachments=deps.connectors),
    )
    wellknown.add_routes(app)
    return app
