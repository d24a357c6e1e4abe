"""Door routes: open a parcel's door now, and issue keypad codes."""

from __future__ import annotations

from aiohttp import web

from gateway.http.bodies import idempotency_key, json_response, read_json
from gateway.http.context import carrier, deps
from gateway.wire import AccessCodeOut, dump


async def open_parcel(request: web.Request) -> web.Response:
    data = await read_json(request, "open-parcel-request")
    idem = idempotency_key(request, data)
    answer = await deps(request).doors.remote_open_once(
        carrier(request).carrier_id, request.match_info["parcel_id"], idem
    )
    return json_response(answer)


async def issue_code(request: web.Request) -> web.Response:
    # No Idempotency-Key: each call replaces the previous unused code, so a retry is harmless
    # and the clear-text code is never stored for replays.
    await read_json(request, "issue-code-request")
    issued = await deps(request).codes.issue(
        carrier(request).carrier_id, request.match_info["parcel_id"]
    )
    out = AccessCodeOut(
        code=issued.code,
        purpose=issued.purpose,
        locker_id=issued.locker_id,
        expires_at=issued.expires_at,
    )
    return json_response(dump(out), status=201)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/parcels/{parcel_id}/open", open_parcel)
    app.router.add_post("/v1/parcels/{parcel_id}/codes", issue_code)
