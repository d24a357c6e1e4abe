"""Carrier parcel routes: book, read, list, reserve, cancel, extend, redirect, history."""

from __future__ import annotations

from aiohttp import web

from gateway.domain.enums import ParcelState
from gateway.http import render
from gateway.http.bodies import created, idempotent, json_response, read_body
from gateway.http.context import carrier, deps
from gateway.http.query import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    enum_param,
    int_param,
    reject_unknown,
    text_param,
)
from gateway.service.idempotency import JsonBody
from gateway.service.inbound import new_parcel
from gateway.wire import (
    CancelParcelIn,
    CreateParcelIn,
    ExtendParcelIn,
    RedirectParcelIn,
    ReserveParcelIn,
)


async def create_parcel(request: web.Request) -> web.Response:
    body = await read_body(request, CreateParcelIn)
    answered = await deps(request).parcels.create(
        new_parcel(carrier(request).carrier_id, body.model),
        idempotent(request, body, render.parcel),
    )
    return created_parcel(answered.answer)


def created_parcel(answer: JsonBody) -> web.Response:
    """A 201 with the new parcel and, as openapi.yaml promises, its `Location`."""
    return created(answer, render.parcel_location(answer["parcelId"]))


async def get_parcel(request: web.Request) -> web.Response:
    parcel = await deps(request).parcels.get(
        carrier(request).carrier_id, request.match_info["parcel_id"]
    )
    return json_response(render.parcel(parcel))


async def list_parcels(request: web.Request) -> web.Response:
    reject_unknown(request, {"state", "lockerId", "limit", "cursor"})
    items, next_cursor = await deps(request).parcels.page(
        carrier(request).carrier_id,
        state=enum_param(request, "state", ParcelState),
        locker_id=text_param(request, "lockerId", 64),
        cursor=text_param(request, "cursor", 256),
        limit=int_param(request, "limit", PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX),
    )
    return json_response(render.parcel_page(items, next_cursor))


async def parcel_events(request: web.Request) -> web.Response:
    parcel_id = request.match_info["parcel_id"]
    events = await deps(request).parcels.events(carrier(request).carrier_id, parcel_id)
    return json_response(render.parcel_events(parcel_id, events))


async def reserve_parcel(request: web.Request) -> web.Response:
    body = await read_body(request, ReserveParcelIn)
    answered = await deps(request).parcels.reserve(
        carrier(request).carrier_id,
        request.match_info["parcel_id"],
        idempotent(request, body, render.parcel),
    )
    return json_response(answered.answer)


async def cancel_parcel(request: web.Request) -> web.Response:
    body = await read_body(request, CancelParcelIn)
    answered = await deps(request).parcels.cancel(
        carrier(request).carrier_id,
        request.match_info["parcel_id"],
        idempotent(request, body, render.parcel),
        body.model.reason,
    )
    return json_response(answered.answer)


async def extend_parcel(request: web.Request) -> web.Response:
    body = await read_body(request, ExtendParcelIn)
    answered = await deps(request).parcels.extend(
        carrier(request).carrier_id,
        request.match_info["parcel_id"],
        idempotent(request, body, render.parcel),
        body.model.pickup_until,
    )
    return json_response(answered.answer)


async def redirect_parcel(request: web.Request) -> web.Response:
    body = await read_body(request, RedirectParcelIn)
    answered = await deps(request).parcels.redirect(
        carrier(request).carrier_id,
        request.match_info["parcel_id"],
        idempotent(request, body, render.parcel),
        locker_id=body.model.locker_id,
        new_parcel_id=body.model.new_parcel_id,
    )
    return created_parcel(answered.answer)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v1/parcels", create_parcel)
    r.add_get("/v1/parcels", list_parcels)
    r.add_get("/v1/parcels/{parcel_id}", get_parcel)
    r.add_get("/v1/parcels/{parcel_id}/events", parcel_events)
    r.add_post("/v1/parcels/{parcel_id}/reserve", reserve_parcel)
    r.add_post("/v1/parcels/{parcel_id}/cancel", cancel_parcel)
    r.add_post("/v1/parcels/{parcel_id}/extend", extend_parcel)
    r.add_post("/v1/parcels/{parcel_id}/redirect", redirect_parcel)
