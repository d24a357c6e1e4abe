"""Door routes: open a parcel's door now, and issue keypad codes."""

from __future__ import annotations

from aiohttp import web

from gateway.http import render
from gateway.http.bodies import idempotent, json_response, read_body
from gateway.http.context import carrier, deps
from gateway.wire import IssueCodeIn, OpenParcelIn


async def open_parcel(request: web.Request) -> web.Response:
    body = await read_body(request, OpenParcelIn)
    answered = await deps(request).unlocks.remote_open_once(
        carrier(request).carrier_id,
        request.match_info["parcel_id"],
        idempotent(request, body, render.open_result),
    )
    return json_response(answered.answer)


async def issue_code(request: web.Request) -> web.Response:
    # No Idempotency-Key: each call replaces the previous unused code, so a retry is harmless
    # and the clear-text code is never stored for replays.
    await read_body(request, IssueCodeIn)
    issued = await deps(request).codes.issue(
        carrier(request).carrier_id, request.match_info["parcel_id"]
    )
    return json_response(render.access_code(issued), status=201)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/parcels/{parcel_id}/open", open_parcel)
    app.router.add_post("/v1/parcels/{parcel_id}/codes", issue_code)
