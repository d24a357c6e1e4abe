"""Admin routes for deliveries (every carrier's, dead letters replayed) and the audit chain."""

from __future__ import annotations

from aiohttp import web

from gateway.domain.audit import AuditAction
from gateway.domain.operators import Role
from gateway.domain.webhooks import DeliveryState
from gateway.errors import FieldIssue, ValidationFailed
from gateway.http.bodies import json_response
from gateway.http.operator_auth import admin, require_operator
from gateway.http.query import enum_param, int_param, query_pointer, reject_unknown, text_param
from gateway.http.routes import admin_common as out
from gateway.http.routes.admin_common import ReasonIn, read_admin_body
from gateway.http.routes.deliveries import TARGET_ID
from gateway.service.audit import Anchor


async def list_deliveries(request: web.Request) -> web.Response:
    await require_operator(request, Role.VIEWER)
    reject_unknown(request, {"state", "target", "limit", "cursor"})
    target = text_param(request, "target", 64)
    if target is not None and not TARGET_ID.match(target):
        raise _bad("target", "must be a webhook or connector attachment id")
    items, next_cursor = await admin(request).deliveries.list(
        None,
        target_id=target,
        state=enum_param(request, "state", DeliveryState),
        cursor=text_param(request, "cursor", 512),
        limit=int_param(request, "limit", 50, 1, 200),
    )
    return json_response({"items": [out.delivery(d) for d in items], "nextCursor": next_cursor})


async def replay_delivery(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.OPERATOR)
    body = await read_admin_body(request, ReasonIn)
    replayed = await admin(request).deliveries.replay_audited(
        int(request.match_info["delivery_id"]),
        actor=principal.actor,
        details={"reason": body.reason},
    )
    return json_response(out.delivery(replayed))


async def audit_head(request: web.Request) -> web.Response:
    await require_operator(request, Role.VIEWER)
    head = await admin(request).audit.head()
    return json_response({"head": str(head), "position": head.position, "hash": head.hash})


async def audit_verify(request: web.Request) -> web.Response:
    await require_operator(request, Role.VIEWER)
    reject_unknown(request, {"expectHead"})
    raw = request.query.get("expectHead")
    try:
        anchor = None if raw is None else Anchor.parse(raw)
    except ValueError as err:
        raise _bad("expectHead", str(err)) from None
    report = await admin(request).audit.verify(expect_head=anchor)
    return json_response(out.verify_report(report))


async def audit_entries(request: web.Request) -> web.Response:
    await require_operator(request, Role.VIEWER)
    reject_unknown(request, {"limit", "action", "subject"})
    rows = await admin(request).audit.latest(
        int_param(request, "limit", 50, 1, 500),
        action=enum_param(request, "action", AuditAction),
        subject=text_param(request, "subject", 200),
    )
    return json_response({"items": [out.audit_entry(r) for r in rows]})


def _bad(name: str, detail: str) -> ValidationFailed:
    return ValidationFailed(
        f"query parameter {name!r}: {detail}", issues=(FieldIssue(query_pointer(name), detail),)
    )


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v1/admin/deliveries", list_deliveries)
    r.add_post("/v1/admin/deliveries/{delivery_id:[1-9][0-9]{0,17}}/replay", replay_delivery)
    r.add_get("/v1/admin/audit", audit_entries)
    r.add_get("/v1/admin/audit/head", audit_head)
    r.add_get("/v1/admin/audit/verify", audit_verify)
