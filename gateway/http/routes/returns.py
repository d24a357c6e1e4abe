"""Return routes: announce a return without a label, read it, get a new drop-off code and
QR, bind the label a courier scanned."""

from __future__ import annotations

from aiohttp import web

from gateway.http.bodies import created, json_response, read_body
from gateway.http.context import DEPS, carrier
from gateway.service.idempotency import JsonBody
from gateway.service.returns import NewReturn, ReturnService, ReturnView
from gateway.wire import dump
from gateway.wire.returns import (
    BindReturnLabelIn,
    CreateReturnIn,
    IssueReturnCodeIn,
    return_to_wire,
)

RETURNS = web.AppKey("returns", ReturnService)


def render_return(view: ReturnView) -> JsonBody:
    body = return_to_wire(view.ret, view.parcel)
    access = view.access
    if access is not None:
        body = body.model_copy(
            update={
                "code": access.code,
                "code_expires_at": access.code_expires_at,
                "qr": access.qr,
                "qr_expires_at": access.qr_expires_at,
            }
        )
    return dump(body)


def return_location(return_id: str) -> str:
    return f"/v1/returns/{return_id}"


async def create_return(request: web.Request) -> web.Response:
    # No Idempotency-Key, like /codes: the answer holds the code in clear, which a stored
    # answer would keep. The shop's reference is the natural key instead: a retry is refused
    # 409 naming the return, whose code the carrier can ask for again (/code).
    body = await read_body(request, CreateReturnIn)
    view = await request.app[RETURNS].announce(
        NewReturn(
            carrier_id=carrier(request).carrier_id,
            locker_id=body.model.locker_id,
            reference=body.model.reference,
            need=body.model.size_requirement(),
            valid_for=body.model.valid_for(),
        )
    )
    return created(render_return(view), return_location(view.ret.id))


async def get_return(request: web.Request) -> web.Response:
    view = await request.app[RETURNS].get(
        carrier(request).carrier_id, request.match_info["return_id"]
    )
    return json_response(render_return(view))


async def new_code(request: web.Request) -> web.Response:
    await read_body(request, IssueReturnCodeIn)
    view = await request.app[RETURNS].new_access(
        carrier(request).carrier_id, request.match_info["return_id"]
    )
    return json_response(render_return(view), status=201)


async def bind_label(request: web.Request) -> web.Response:
    body = await read_body(request, BindReturnLabelIn)
    view = await request.app[RETURNS].bind_by_courier(
        carrier(request).carrier_id, request.match_info["return_id"], body.model.label
    )
    return json_response(render_return(view))


def add_routes(app: web.Application) -> None:
    shared = app[DEPS]
    app[RETURNS] = ReturnService(
        store=shared.store,
        parcels=shared.parcels,
        codes=shared.codes,
        grants=shared.grants,
        clock=shared.codes.now,
    )
    app.router.add_post("/v1/returns", create_return)
    app.router.add_get("/v1/returns/{return_id}", get_return)
    app.router.add_post("/v1/returns/{return_id}/code", new_code)
    app.router.add_post("/v1/returns/{return_id}/label", bind_label)
