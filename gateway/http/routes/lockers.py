"""GET /v1/lockers (search) and GET /v1/lockers/{lockerId} (detail with availability)."""

from __future__ import annotations

from aiohttp import web

from gateway.domain.enums import SizeClass
from gateway.errors import FieldIssue, ValidationFailed
from gateway.http import render
from gateway.http.bodies import json_response
from gateway.http.context import deps
from gateway.http.query import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    enum_param,
    float_param,
    int_param,
    location_param,
    reject_unknown,
    text_param,
)
from gateway.service.lockers import LockerQuery


async def list_lockers(request: web.Request) -> web.Response:
    reject_unknown(request, {"near", "radiusM", "sizeClass", "limit", "cursor"})
    query = LockerQuery(
        near=location_param(request, "near"),
        radius_m=float_param(request, "radiusM", 1.0, 20_000_000.0),
        size_class=enum_param(request, "sizeClass", SizeClass),
        cursor=text_param(request, "cursor", 256),
        limit=int_param(request, "limit", PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX),
    )
    if query.radius_m is not None and query.near is None:
        raise ValidationFailed(
            "radiusM needs near=lat,lon",
            issues=(FieldIssue("/query/near", "required when radiusM is given"),),
        )
    views, next_cursor = await deps(request).lockers.search(query)
    return json_response(render.locker_page(views, next_cursor))


async def get_locker(request: web.Request) -> web.Response:
    view = await deps(request).lockers.get(request.match_info["locker_id"])
    return json_response(render.locker(view))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/lockers", list_lockers)
    app.router.add_get("/v1/lockers/{locker_id}", get_locker)
