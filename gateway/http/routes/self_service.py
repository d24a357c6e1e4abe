"""Recipient self-service: the carrier's link, and the recipient's JSON API behind it."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from gateway.errors import AuthenticationFailed
from gateway.http.bodies import json_response, read_body
from gateway.http.context import carrier, deps
from gateway.http.discovery import discovery
from gateway.http.render import access_code
from gateway.service.self_service import SelfServiceView
from gateway.wire import dump
from gateway.wire.self_service import (
    SelfServiceExtendIn,
    SelfServiceLinkOut,
    SelfServiceLockerOut,
    SelfServiceParcelOut,
    SelfServiceRedirectIn,
)

PAGE_PREFIX = "/self-service/"


def page_url(request: web.Request, token: str) -> str:
    """The recipient's page for `token`, at the network's public address."""
    return discovery(request).base_url(request) + PAGE_PREFIX + quote(token, safe="")


def view_to_wire(view: SelfServiceView) -> SelfServiceParcelOut:
    parcel, locker = view.parcel, view.locker
    return SelfServiceParcelOut(
        parcel_id=parcel.parcel_id,
        state=parcel.state,
        locker=SelfServiceLockerOut(
            locker_id=parcel.locker_id,
            name=None if locker is None else locker.name,
            address=None if locker is None else locker.location.address,
        ),
        pickup_until=parcel.pickup_until,
        link_expires_at=view.link_expires_at,
        extension_days_available=view.extension_days,
        extended_at=parcel.recipient_requests.extended_at,
        codes_left=view.codes_left,
        can_redirect=view.can_redirect,
        redirect_locker_id=parcel.recipient_requests.redirect_locker_id,
    )


async def issue_link(request: web.Request) -> web.Response:
    link = await deps(request).self_service.issue_link(
        carrier(request).carrier_id, request.match_info["parcel_id"]
    )
    body = SelfServiceLinkOut(
        url=page_url(request, link.token), token=link.token, expires_at=link.expires_at
    )
    return json_response(dump(body), status=201)


def recipient_token(request: web.Request) -> str:
    """The link's token from `Authorization: Bearer …` (the JSON API's only credential)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(
            "send the self-service link's token as Authorization: Bearer <token>",
            details={"reason": "missing"},
        )
    return token.strip()


async def get_parcel(request: web.Request) -> web.Response:
    view = await deps(request).self_service.view(recipient_token(request))
    return json_response(dump(view_to_wire(view)))


async def extend(request: web.Request) -> web.Response:
    token = recipient_token(request)
    body = await read_body(request, SelfServiceExtendIn)
    view = await deps(request).self_service.extend(token, body.model.days)
    return json_response(dump(view_to_wire(view)))


async def new_code(request: web.Request) -> web.Response:
    code, _ = await deps(request).self_service.new_code(recipient_token(request))
    return json_response(access_code(code))


async def request_redirect(request: web.Request) -> web.Response:
    token = recipient_token(request)
    body = await read_body(request, SelfServiceRedirectIn)
    view = await deps(request).self_service.request_redirect(token, body.model.locker_id)
    return json_response(dump(view_to_wire(view)))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v1/parcels/{parcel_id}/self-service-link", issue_link)
    r.add_get("/v1/self-service/parcel", get_parcel)
    r.add_post("/v1/self-service/parcel/extend", extend)
    r.add_post("/v1/self-service/parcel/code", new_code)
    r.add_post("/v1/self-service/parcel/redirect", request_redirect)
