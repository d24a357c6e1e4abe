"""Pre-check and soft holds: `GET /v1/lockers/{id}/precheck`, `/v1/holds` and its release."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from aiohttp import web

from gateway.domain.enums import SizeClass
from gateway.domain.holds import Hold, HoldState
from gateway.domain.sizes import Dimensions, SizeRequirement
from gateway.errors import FieldIssue, ValidationFailed
from gateway.http.bodies import created, idempotent, json_response, read_body
from gateway.http.context import carrier, deps
from gateway.http.query import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    enum_param,
    int_param,
    query_pointer,
    reject_unknown,
    text_param,
)
from gateway.service.holds import NewHold
from gateway.service.idempotency import JsonBody
from gateway.wire import (
    CreateHoldIn,
    HoldListOut,
    ReleaseHoldIn,
    dump,
    hold_to_wire,
    precheck_to_wire,
)

PRECHECK_PARAMS = {"sizeClass", "lengthMm", "widthMm", "heightMm", "weightG", "at"}
_DIMENSIONS = ("lengthMm", "widthMm", "heightMm")
# common.json's DateTime: RFC 3339 with an explicit offset.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


def render_hold(hold: Hold) -> JsonBody:
    return dump(hold_to_wire(hold))


def hold_location(hold_id: str) -> str:
    return f"/v1/holds/{quote(hold_id, safe='')}"


async def precheck(request: web.Request) -> web.Response:
    reject_unknown(request, PRECHECK_PARAMS)
    answer = await deps(request).holds.precheck(
        request.match_info["locker_id"], _need(request), _at(request)
    )
    return json_response(dump(precheck_to_wire(answer)))


async def create_hold(request: web.Request) -> web.Response:
    body = await read_body(request, CreateHoldIn)
    model = body.model
    seconds = model.ttl_seconds
    cmd = NewHold(
        carrier_id=carrier(request).carrier_id,
        locker_id=model.locker_id,
        need=model.size_requirement(),
        ttl=None if seconds is None else timedelta(seconds=seconds),
        reference=model.reference,
    )
    answered = await deps(request).holds.create(cmd, idempotent(request, body, render_hold))
    return created(answered.answer, hold_location(answered.answer["holdId"]))


async def list_holds(request: web.Request) -> web.Response:
    reject_unknown(request, {"state", "lockerId", "limit", "cursor"})
    items, next_cursor = await deps(request).holds.page(
        carrier(request).carrier_id,
        state=enum_param(request, "state", HoldState),
        locker_id=text_param(request, "lockerId", 64),
        cursor=text_param(request, "cursor", 512),
        limit=int_param(request, "limit", PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX),
    )
    page = HoldListOut(items=[hold_to_wire(h) for h in items], next_cursor=next_cursor)
    return json_response(dump(page))


async def get_hold(request: web.Request) -> web.Response:
    hold = await deps(request).holds.get(carrier(request).carrier_id, request.match_info["hold_id"])
    return json_response(render_hold(hold))


async def release_hold(request: web.Request) -> web.Response:
    body = await read_body(request, ReleaseHoldIn)
    answered = await deps(request).holds.release(
        carrier(request).carrier_id,
        request.match_info["hold_id"],
        idempotent(request, body, render_hold),
    )
    return json_response(answered.answer)


def _need(request: web.Request) -> SizeRequirement:
    """The parcel asked about: `sizeClass`, or all three dimensions (and `weightG`)."""
    size_class = enum_param(request, "sizeClass", SizeClass)
    given = [name for name in _DIMENSIONS if name in request.query]
    if given and len(given) != len(_DIMENSIONS):
        missing = next(name for name in _DIMENSIONS if name not in given)
        raise ValidationFailed(
            "lengthMm, widthMm and heightMm go together",
            issues=(FieldIssue(query_pointer(missing), "required with the other dimensions"),),
        )
    dims = None
    if given:
        length, width, height = (int_param(request, name, 0, 1, 3000) for name in _DIMENSIONS)
        dims = Dimensions(width_mm=width, height_mm=height, depth_mm=length)
    weight = int_param(request, "weightG", 0, 1, 100_000) if "weightG" in request.query else None
    if size_class is None and dims is None:
        raise ValidationFailed(
            "say what the parcel is: sizeClass, or lengthMm, widthMm and heightMm",
            issues=(FieldIssue(query_pointer("sizeClass"), "sizeClass or dimensions required"),),
        )
    return SizeRequirement(size_class=size_class, dimensions=dims, weight_g=weight)


def _at(request: web.Request) -> datetime | None:
    raw = request.query.get("at")
    if raw is None:
        return None
    # An unencoded "+01:00" offset arrives as " 01:00" (form encoding): read it as meant.
    raw = raw.replace(" ", "+")
    try:
        if not _RFC3339.match(raw):
            raise ValueError(raw)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(
            "at must be an RFC 3339 timestamp with an offset (2026-12-07T09:30:00Z)",
            issues=(FieldIssue(query_pointer("at"), "not an RFC 3339 timestamp"),),
        ) from None
    return value.astimezone(UTC)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/lockers/{locker_id}/precheck", precheck)
    app.router.add_post("/v1/holds", create_hold)
    app.router.add_get("/v1/holds", list_holds)
    app.router.add_get("/v1/holds/{hold_id}", get_hold)
    app.router.add_post("/v1/holds/{hold_id}/release", release_hold)
