"""Courier routes: open a session at a locker (one code for the round), read it, get a new
code, open its next door from the carrier's app, close it; the collection manifest per locker
or per route."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from gateway.errors import FieldIssue, ValidationFailed
from gateway.http import render
from gateway.http.bodies import created, idempotent, json_response, read_body
from gateway.http.context import DEPS, carrier
from gateway.http.query import query_pointer, reject_unknown
from gateway.service.collection_manifest import MAX_ROUTE_LOCKERS, CollectionManifests
from gateway.service.courier_sessions import CourierSessions, SessionCode, SessionView
from gateway.service.idempotency import JsonBody
from gateway.wire import dump
from gateway.wire.courier import (
    CloseCourierSessionIn,
    CourierSessionCodeOut,
    IssueSessionCodeIn,
    OpenCourierSessionIn,
    OpenNextDoorIn,
    manifest_to_wire,
    session_to_wire,
)

COURIER = web.AppKey("courier-sessions", CourierSessions)
MANIFESTS = web.AppKey("collection-manifests", CollectionManifests)
# A locker id as the schemas bound it (common.json LockerId).
_LOCKER_ID_MAX = 64


def render_session(view: SessionView, code: str | None = None) -> JsonBody:
    return dump(session_to_wire(view.session, view.state, view.items, code=code))


def render_code(issued: SessionCode) -> JsonBody:
    return dump(
        CourierSessionCodeOut(
            session_id=issued.session_id,
            locker_id=issued.locker_id,
            code=issued.code,
            expires_at=issued.expires_at,
        )
    )


def session_location(session_id: str) -> str:
    return f"/v1/courier-sessions/{session_id}"


async def open_session(request: web.Request) -> web.Response:
    # No Idempotency-Key, like /codes: the answer holds the code in clear, which a stored
    # answer would keep. A retry is refused 409 (one open session per locker) naming the
    # session, whose code the carrier can ask for again.
    body = await read_body(request, OpenCourierSessionIn)
    ttl = body.model.ttl_seconds
    view, issued = await request.app[COURIER].open(
        carrier(request).carrier_id,
        body.model.locker_id,
        courier_ref=body.model.courier_ref,
        ttl=None if ttl is None else timedelta(seconds=ttl),
    )
    return created(render_session(view, issued.code), session_location(view.session.id))


async def get_session(request: web.Request) -> web.Response:
    view = await request.app[COURIER].get(
        carrier(request).carrier_id, request.match_info["session_id"]
    )
    return json_response(render_session(view))


async def new_code(request: web.Request) -> web.Response:
    await read_body(request, IssueSessionCodeIn)
    issued = await request.app[COURIER].new_code(
        carrier(request).carrier_id, request.match_info["session_id"]
    )
    return json_response(render_code(issued), status=201)


async def close_session(request: web.Request) -> web.Response:
    body = await read_body(request, CloseCourierSessionIn)
    answered = await request.app[COURIER].close(
        carrier(request).carrier_id,
        request.match_info["session_id"],
        idempotent(request, body, render_session),
    )
    return json_response(answered.answer)


async def open_next(request: web.Request) -> web.Response:
    body = await read_body(request, OpenNextDoorIn)
    answered = await request.app[COURIER].open_next(
        carrier(request).carrier_id,
        request.match_info["session_id"],
        request.app[DEPS].unlocks,
        idempotent(request, body, render.open_result),
    )
    return json_response(answered.answer)


async def collection_manifest(request: web.Request) -> web.Response:
    reject_unknown(request, {"lockerId"})
    route = request.query.getall("lockerId", [])
    _check_route(route)
    manifest = await request.app[MANIFESTS].route(carrier(request).carrier_id, route or None)
    lockers = [(locker.locker_id, locker.lines) for locker in manifest.lockers]
    body = manifest_to_wire(manifest.generated_at, lockers, truncated=manifest.truncated)
    return json_response(dump(body))


def _check_route(route: list[str]) -> None:
    where = query_pointer("lockerId")

    def bad(detail: str) -> ValidationFailed:
        return ValidationFailed(
            f"query parameter 'lockerId': {detail}", issues=(FieldIssue(where, detail),)
        )

    if len(route) > MAX_ROUTE_LOCKERS:
        raise bad(f"a route names at most {MAX_ROUTE_LOCKERS} lockers, not {len(route)}")
    if any(not 1 <= len(locker_id) <= _LOCKER_ID_MAX for locker_id in route):
        raise bad(f"a locker id has 1 to {_LOCKER_ID_MAX} characters")
    if len(set(route)) != len(route):
        raise bad("a route names each locker once")


def add_routes(app: web.Application) -> None:
    shared = app[DEPS]
    app[COURIER] = CourierSessions(store=shared.store, codes=shared.codes)
    app[MANIFESTS] = CollectionManifests(store=shared.store, clock=shared.codes.now)
    app.router.add_post("/v1/courier-sessions", open_session)
    app.router.add_get("/v1/courier-sessions/{session_id}", get_session)
    app.router.add_post("/v1/courier-sessions/{session_id}/code", new_code)
    app.router.add_post("/v1/courier-sessions/{session_id}/close", close_session)
    app.router.add_post("/v1/courier-sessions/{session_id}/open-next", open_next)
    app.router.add_get("/v1/collection-manifest", collection_manifest)
