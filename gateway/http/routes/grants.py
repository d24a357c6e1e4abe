"""Grant routes: issue a signed access grant for a parcel's next door opening."""

from __future__ import annotations

from aiohttp import web

from gateway.http.bodies import json_response, read_json
from gateway.http.context import carrier, deps
from gateway.wire import AccessGrantOut, dump


async def issue_grant(request: web.Request) -> web.Response:
    # No Idempotency-Key, like /codes: a retry yields another grant for the same door, and
    # storing the answer for replays would keep a bearer token the gateway otherwise never
    # stores.
    await read_json(request, "issue-grant-request")
    issued = await deps(request).grants.issue(
        carrier(request).carrier_id, request.match_info["parcel_id"]
    )
    out = AccessGrantOut(
        token=issued.token,
        qr=issued.qr,
        action=issued.action,
        locker_id=issued.locker_id,
        compartment_code=issued.compartment_code,
        not_before=issued.not_before,
        expires_at=issued.expires_at,
        kid=issued.kid,
    )
    return json_response(dump(out), status=201)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/parcels/{parcel_id}/grants", issue_grant)
