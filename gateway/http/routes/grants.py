"""Grant routes: issue a signed access grant for a parcel's next door opening."""

from __future__ import annotations

from aiohttp import web

from gateway.http import render
from gateway.http.bodies import json_response, read_body
from gateway.http.context import carrier, deps
from gateway.wire import IssueGrantIn


async def issue_grant(request: web.Request) -> web.Response:
    # No Idempotency-Key, like /codes: a retry yields another grant for the same door, and
    # storing the answer for replays would keep a bearer token the gateway otherwise never
    # stores.
    await read_body(request, IssueGrantIn)
    issued = await deps(request).grants.issue(
        carrier(request).carrier_id, request.match_info["parcel_id"]
    )
    return json_response(render.access_grant(issued), status=201)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/parcels/{parcel_id}/grants", issue_grant)
