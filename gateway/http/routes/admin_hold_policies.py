"""Admin routes for hold-time policies per network, carrier and locker."""

from __future__ import annotations

from aiohttp import web

from gateway.domain.hold_policy import HoldPolicy, PolicyScope
from gateway.domain.operators import Role
from gateway.errors import FieldIssue, ValidationFailed
from gateway.http.bodies import json_response, read_body
from gateway.http.context import deps
from gateway.http.operator_auth import require_operator
from gateway.http.query import enum_param, reject_unknown
from gateway.wire import dump
from gateway.wire.hold_policies import HoldPolicyListOut, SetHoldPolicyIn, hold_policy_to_wire

MAX_SCOPE_ID = 64


def _scope(request: web.Request) -> tuple[PolicyScope, str]:
    raw, scope_id = request.match_info["scope"], request.match_info["scope_id"]
    try:
        scope = PolicyScope(raw)
    except ValueError:
        raise ValidationFailed(
            f"unknown policy scope {raw!r}: network, carrier or locker",
            issues=(FieldIssue("/path/scope", "network, carrier or locker"),),
        ) from None
    if not 1 <= len(scope_id) <= MAX_SCOPE_ID:
        raise ValidationFailed(
            f"a scope id has 1..{MAX_SCOPE_ID} characters",
            issues=(FieldIssue("/path/scopeId", f"1..{MAX_SCOPE_ID} characters"),),
        )
    return scope, scope_id


async def list_policies(request: web.Request) -> web.Response:
    await require_operator(request, Role.VIEWER)
    reject_unknown(request, {"scope"})
    records = await deps(request).hold_policies.list(enum_param(request, "scope", PolicyScope))
    return json_response(dump(HoldPolicyListOut(items=[hold_policy_to_wire(r) for r in records])))


async def get_policy(request: web.Request) -> web.Response:
    await require_operator(request, Role.VIEWER)
    scope, scope_id = _scope(request)
    record = await deps(request).hold_policies.get(scope, scope_id)
    return json_response(dump(hold_policy_to_wire(record)))


async def put_policy(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.OPERATOR)
    scope, scope_id = _scope(request)
    body = (await read_body(request, SetHoldPolicyIn)).model
    try:
        policy = HoldPolicy(
            hold_days=body.hold_days,
            reminder_hours=None if body.reminder_hours is None else tuple(body.reminder_hours),
            extension_days=body.extension_days,
        )
    except ValueError as err:  # the schema checks the same; this keeps the domain honest
        raise ValidationFailed(str(err)) from None
    if policy.empty:
        raise ValidationFailed(
            "a policy sets at least one of holdDays, reminderHours, extensionDays "
            "(DELETE removes a policy)",
            issues=(FieldIssue("", "holdDays, reminderHours or extensionDays"),),
        )
    record = await deps(request).hold_policies.put(
        scope, scope_id, policy, actor=principal.actor, reason=body.reason
    )
    return json_response(dump(hold_policy_to_wire(record)))


async def delete_policy(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.OPERATOR)
    scope, scope_id = _scope(request)
    await deps(request).hold_policies.delete(scope, scope_id, actor=principal.actor)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v1/admin/hold-policies", list_policies)
    r.add_get("/v1/admin/hold-policies/{scope}/{scope_id}", get_policy)
    r.add_put("/v1/admin/hold-policies/{scope}/{scope_id}", put_policy)
    r.add_delete("/v1/admin/hold-policies/{scope}/{scope_id}", delete_policy)
