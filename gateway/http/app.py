"""Builds the aiohttp application: middlewares, routes, body limit."""

from __future__ import annotations

from typing import TypedDict

from aiohttp import web

from gateway.http.context import DEPS, HttpDeps
from gateway.http.discovery import DISCOVERY, Discovery
from gateway.http.middleware import auth_middleware, problem_middleware
from gateway.http.operator_auth import ADMIN, AdminDeps
from gateway.http.recipient_page import mount_recipient_page
from gateway.http.routes import (
    admin_hold_policies,
    admin_lockers,
    admin_operators,
    admin_ops,
    admin_parcels,
    admin_session,
    bundles,
    connectors,
    courier_sessions,
    deliveries,
    doors,
    grants,
    holds,
    lockers,
    meta,
    ops,
    parcel_batch,
    parcels,
    returns,
    self_service,
    webhooks,
    wellknown,
)
from gateway.http.telemetry import Ops, install
from gateway.service.inbound import InboundService

# aiohttp answers a header or request line past its limit (8190 bytes by default) itself, with
# a plain-text 400 that no middleware sees. Read lines up to this size instead, so an oversized
# header (an Authorization far past tokens.max_token_bytes) gets the API's own problem+json;
# past it aiohttp's answer stays, which bounds what one request may hold (128 headers).
MAX_HEADER_LINE_BYTES = 32 * 1024


class ServerLimits(TypedDict):
    max_line_size: int
    max_field_size: int


def server_limits() -> ServerLimits:
    """Keyword arguments for `web.AppRunner`: the request line and header size limits."""
    return {"max_line_size": MAX_HEADER_LINE_BYTES, "max_field_size": MAX_HEADER_LINE_BYTES}


def build_http_app(
    deps: HttpDeps,
    *,
    max_body_bytes: int,
    operations: Ops,
    discovery: Discovery,
    admin: AdminDeps | None = None,
) -> web.Application:
    app = web.Application(
        middlewares=[problem_middleware, auth_middleware], client_max_size=max_body_bytes
    )
    app[DEPS] = deps
    app[DISCOVERY] = discovery  # the published limits, which the routes enforce
    install(app, operations)  # correlation ids, latency, access log: outermost
    ops.add_routes(app)
    meta.add_routes(app)
    lockers.add_routes(app)
    parcels.add_routes(app)
    parcel_batch.add_routes(app)
    doors.add_routes(app)
    grants.add_routes(app)
    self_service.add_routes(app)
    holds.add_routes(app)
    bundles.add_routes(app)
    courier_sessions.add_routes(app)
    returns.add_routes(app)
    webhooks.add_routes(app)
    deliveries.add_routes(app)
    connectors.add_routes(
        app,
        InboundService(parcels=deps.parcels, spec=deps.spec, attachments=deps.connectors),
    )
    wellknown.add_routes(app)
    mount_recipient_page(app)  # the recipient's self-service page (no /v1: HTML)
    if admin is not None:
        # The operators' API (/v1/admin/): its own sign-in, see gateway/http/operator_auth.py.
        app[ADMIN] = admin
        for routes in (
            admin_session,
            admin_lockers,
            admin_parcels,
            admin_ops,
            admin_hold_policies,
            admin_operators,
        ):
            routes.add_routes(app)
    return app
