"""Admin routes over lockers: presence, compartments, service state, keypad lockouts."""

from __future__ import annotations

from aiohttp import web

from gateway.domain.door import OpenPurpose
from gateway.domain.operators import Role
from gateway.http.bodies import json_response
from gateway.http.operator_auth import admin, require_operator
from gateway.http.query import reject_unknown
from gateway.http.routes import admin_common as out
from gateway.http.routes.admin_common import ReasonIn, read_admin_action, read_admin_body
from gateway.service.admin_actions import Why


async def list_lockers(request: web.Request) -> web.Response:
    await require_operator(request, Role.VIEWER)
    reject_unknown(request, set())
    statuses = await admin(request).views.lockers()
    return json_response({"items": [out.locker_status(s) for s in statuses]})


async def get_locker(request: web.Request) -> web.Response:
    await require_operator(request, Role.VIEWER)
    status, compartments = await admin(request).views.locker(request.match_info["locker_id"])
    return json_response(
        {
            "locker": out.locker_status(status),
            "compartments": [out.compartment(c) for c in compartments],
        }
    )


async def out_of_service(request: web.Request) -> web.Response:
    return await _set_service(request, in_service=False)


async def in_service(request: web.Request) -> web.Response:
    return await _set_service(request, in_service=True)


async def _set_service(request: web.Request, *, in_service: bool) -> web.Response:
    principal = await require_operator(request, Role.OPERATOR)
    body, reply = await read_admin_action(request, ReasonIn, out.compartment)
    locker_id, code = request.match_info["locker_id"], request.match_info["code"]
    answered = await admin(request).actions.set_in_service(
        locker_id, code, in_service, Why(principal.actor, body.reason), reply
    )
    return json_response(answered.answer)


async def maintenance_open(request: web.Request) -> web.Response:
    """Open an empty compartment's door for inspection; 409 when it holds a parcel. No
    Idempotency-Key: a retry is refused while the first open's door session is live, and
    opening an empty door again after that is what the operator asked for."""
    principal = await require_operator(request, Role.OPERATOR)
    body = await read_admin_body(request, ReasonIn)
    locker_id, code = request.match_info["locker_id"], request.match_info["code"]
    outcome = await admin(request).actions.maintenance_open(
        locker_id, code, Why(principal.actor, body.reason)
    )
    return json_response(
        {
            "outcome": outcome.value,
            "purpose": OpenPurpose.SERVICE.value,
            "lockerId": locker_id,
            "compartmentCode": code,
        }
    )


async def keypad_lockouts(request: web.Request) -> web.Response:
    await require_operator(request, Role.VIEWER)
    counters = await admin(request).views.keypad_lockouts()
    return json_response({"items": [out.keypad_lockout(c) for c in counters]})


async def clear_keypad_lockout(request: web.Request) -> web.Response:
    principal = await require_operator(request, Role.OPERATOR)
    body = await read_admin_body(request, ReasonIn)
    cleared = await admin(request).keypads.clear(
        request.match_info["locker_id"], actor=principal.actor, reason=body.reason
    )
    return json_response(
        {
            "lockerId": cleared.locker_id,
            "limit": cleared.reason.value,
            "lockedUntil": out.ts(cleared.locked_until),
            "lockouts": cleared.lockouts,
            "dailyFailures": cleared.day_failures,
            "clearedAt": out.ts(cleared.cleared_at),
        }
    )


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v1/admin/lockers", list_lockers)
    r.add_get("/v1/admin/lockers/{locker_id}", get_locker)
    base = "/v1/admin/lockers/{locker_id}/compartments/{code}"
    r.add_post(f"{base}/out-of-service", out_of_service)
    r.add_post(f"{base}/in-service", in_service)
    r.add_post(f"{base}/open", maintenance_open)
    r.add_get("/v1/admin/keypad-lockouts", keypad_lockouts)
    r.add_post("/v1/admin/keypad-lockouts/{locker_id}/clear", clear_keypad_lockout)
