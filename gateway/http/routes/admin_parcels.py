"""Admin routes over every carrier's parcels: filtered listing, detail, and the actions
(remote open, force-expire, mark picked up, reassign), each with a reason."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from gateway.domain.enums import ParcelState
from gateway.domain.operators import Role
from gateway.errors import FieldIssue, ValidationFailed
from gateway.http.bodies import json_response
from gateway.http.operator_auth import admin, require_operator
from gateway.http.query import enum_param, int_param, query_pointer, reject_unknown, text_param
from gateway.http.routes import admin_common as out
from gateway.http.routes.admin_common import ReasonIn, ReassignIn, read_admin_action
from gateway.service.admin_actions import Why
from gateway.service.admin_views import ParcelFilter

_FILTERS = {"q", "state", "lockerId", "carrierId", "overdue", "pickupBefore", "limit", "cursor"}


async def list_parcels(request: web.Request) -> web.Response:
    await require_operator(request, Role.VIEWER)
    reject_unknown(request, _FILTERS)
    where = ParcelFilter(
        state=enum_param(request, "state", ParcelState),
        locker_id=text_param(request, "lockerId", 64),
        carrier_id=text_param(request, "carrierId", 64),
        overdue=_bool(request, "overdue"),
        pickup_before=_time(request, "pickupBefore"),
        identifier=text_param(request, "q", 128),
    )
    items, next_cursor = await admin(request).views.parcels(
        where,
        cursor=text_param(request, "cursor", 256),
        limit=int_param(request, "limit", 50, 1, 200),
    )
    return json_response({"items": [out.parcel(p) for p in items], "nextCursor": next_cursor})


async def get_parcel(request: web.Request) -> web.Response:
    await require_operator(request, Role.VIEWER)
    parcel, events = await admin(request).views.parcel(request.match_info["uid"])
    return json_response(out.parcel_detail(parcel, events))


async def open_door(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.OPERATOR)
    body, reply = await read_admin_action(request, ReasonIn, out.open_result)
    answered = await admin(request).actions.remote_open(
        request.match_info["uid"], Why(principal.actor, body.reason), reply
    )
    return json_response(answered.answer)


async def force_expire(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.OPERATOR)
    body, reply = await read_admin_action(request, ReasonIn, out.parcel)
    answered = await admin(request).actions.force_expire(
        request.match_info["uid"], Why(principal.actor, body.reason), reply
    )
    return json_response(answered.answer)


async def mark_picked_up(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.OPERATOR)
    body, reply = await read_admin_action(request, ReasonIn, out.parcel)
    answered = await admin(request).actions.mark_picked_up(
        request.match_info["uid"], Why(principal.actor, body.reason), reply
    )
    return json_response(answered.answer)


async def reassign(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.OPERATOR)
    body, reply = await read_admin_action(request, ReassignIn, out.parcel)
    answered = await admin(request).actions.reassign(
        request.match_info["uid"],
        body.locker_id,
        body.compartment,
        Why(principal.actor, body.reason),
        reply,
    )
    return json_response(answered.answer)


def _bool(request: web.Request, name: str) -> bool:
    raw = request.query.get(name)
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise ValidationFailed(
        f"query parameter {name!r}: must be true or false",
        issues=(FieldIssue(query_pointer(name), "must be true or false"),),
    )


def _time(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        detail = "must be an RFC 3339 date-time with an offset, e.g. 2026-12-06T18:00:00Z"
        raise ValidationFailed(
            f"query parameter {name!r}: {detail}", issues=(FieldIssue(query_pointer(name), detail),)
        )
    return value


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v1/admin/parcels", list_parcels)
    r.add_get("/v1/admin/parcels/{uid}", get_parcel)
    r.add_post("/v1/admin/parcels/{uid}/open", open_door)
    r.add_post("/v1/admin/parcels/{uid}/expire", force_expire)
    r.add_post("/v1/admin/parcels/{uid}/picked-up", mark_picked_up)
    r.add_post("/v1/admin/parcels/{uid}/reassign", reassign)
