"""Carrier parcel routes: book, read, list, reserve, cancel, extend, redirect, history."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from gateway.domain.enums import ParcelState
from gateway.http.bodies import idempotency_key, json_response, read_json
from gateway.http.context import carrier, deps
from gateway.http.query import enum_param, int_param, reject_unknown, text_param
from gateway.service.parcels import NewParcel
from gateway.wire import (
    CancelParcelIn,
    CreateParcelIn,
    ExtendParcelIn,
    ParcelEventListOut,
    ParcelListOut,
    RedirectParcelIn,
    dump,
    event_to_wire,
    parcel_to_wire,
)


def _seconds(value: int | None) -> timedelta | None:
    return timedelta(seconds=value) if value is not None else None


async def create_parcel(request: web.Request) -> web.Response:
    data = await read_json(request, "create-parcel-request")
    idem = idempotency_key(request, data)
    body = CreateParcelIn.model_validate(data)
    cmd = NewParcel(
        carrier_id=carrier(request).carrier_id,
        parcel_id=body.parcel_id,
        locker_id=body.locker_id,
        need=body.size_requirement(),
        direction=body.direction,
        reserve=body.reserve,
        reservation_ttl=_seconds(body.reservation_ttl_seconds),
        pickup_window=_seconds(body.pickup_window_seconds),
        reference=body.reference,
        recipient=body.recipient.to_domain() if body.recipient else None,
    )
    answer = await deps(request).parcels.create(cmd, idem)
    return json_response(answer, status=201)


async def get_parcel(request: web.Request) -> web.Response:
    parcel = await deps(request).parcels.get(
        carrier(request).carrier_id, request.match_info["parcel_id"]
    )
    return json_response(dump(parcel_to_wire(parcel)))


async def list_parcels(request: web.Request) -> web.Response:
    reject_unknown(request, {"state", "lockerId", "limit", "cursor"})
    items, next_cursor = await deps(request).parcels.page(
        carrier(request).carrier_id,
        state=enum_param(request, "state", ParcelState),
        locker_id=text_param(request, "lockerId", 64),
        cursor=text_param(request, "cursor", 256),
        limit=int_param(request, "limit", 50, 1, 200),
    )
    page = ParcelListOut(items=[parcel_to_wire(p) for p in items], next_cursor=next_cursor)
    return json_response(dump(page))


async def parcel_events(request: web.Request) -> web.Response:
    parcel_id = request.match_info["parcel_id"]
    events = await deps(request).parcels.events(carrier(request).carrier_id, parcel_id)
    page = ParcelEventListOut(parcel_id=parcel_id, items=[event_to_wire(e) for e in events])
    return json_response(dump(page))


async def reserve_parcel(request: web.Request) -> web.Response:
    data = await read_json(request, "reserve-parcel-request")
    idem = idempotency_key(request, data)
    answer = await deps(request).parcels.reserve(
        carrier(request).carrier_id, request.match_info["parcel_id"], idem
    )
    return json_response(answer)


async def cancel_parcel(request: web.Request) -> web.Response:
    data = await read_json(request, "cancel-parcel-request")
    idem = idempotency_key(request, data)
    body = CancelParcelIn.model_validate(data)
    answer = await deps(request).parcels.cancel(
        carrier(request).carrier_id, request.match_info["parcel_id"], idem, body.reason
    )
    return json_response(answer)


async def extend_parcel(request: web.Request) -> web.Response:
    data = await read_json(request, "extend-parcel-request")
    idem = idempotency_key(request, data)
    body = ExtendParcelIn.model_validate(data)
    answer = await deps(request).parcels.extend(
        carrier(request).carrier_id, request.match_info["parcel_id"], idem, body.pickup_until
    )
    return json_response(answer)


async def redirect_parcel(request: web.Request) -> web.Response:
    data = await read_json(request, "redirect-parcel-request")
    idem = idempotency_key(request, data)
    body = RedirectParcelIn.model_validate(data)
    answer = await deps(request).parcels.redirect(
        carrier(request).carrier_id,
        request.match_info["parcel_id"],
        idem,
        locker_id=body.locker_id,
        new_parcel_id=body.new_parcel_id,
    )
    return json_response(answer, status=201)


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
