"""Bundle routes: book several parcels for one recipient, read the bundle, one code for all."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from aiohttp import web

from gateway.domain.bundles import Bundle
from gateway.domain.door import OpenPurpose
from gateway.http.bodies import created, idempotent, json_response, read_body
from gateway.http.context import DEPS, carrier
from gateway.service.bundle_grants import BundleGrants, IssuedBundleGrant
from gateway.service.bundles import BundleService, IssuedBundleCode, NewBundle
from gateway.service.idempotency import JsonBody
from gateway.service.parcels import NewParcel
from gateway.wire.bundles import (
    BundleCodeOut,
    BundleGrantOut,
    CreateBundleIn,
    IssueBundleCodeIn,
    IssueBundleGrantIn,
    body_of,
    bundle_to_wire,
)


def render_bundle(bundle: Bundle) -> JsonBody:
    return body_of(bundle_to_wire(bundle))


def render_code(issued: IssuedBundleCode) -> JsonBody:
    purpose = "deposit" if issued.purpose is OpenPurpose.DEPOSIT else "pickup"
    return body_of(
        BundleCodeOut(
            code=issued.code,
            purpose=purpose,
            bundle_id=issued.bundle_id,
            locker_id=issued.locker_id,
            parcel_ids=[p.parcel_id for p in issued.parcels],
            compartment_codes=[p.compartment_code or "" for p in issued.parcels],
            expires_at=issued.expires_at,
        )
    )


def new_bundle(carrier_id: str, body: CreateBundleIn) -> NewBundle:
    """The booking command of a validated `POST /v1/bundles` body: the bundle's own members
    (locker, windows, reference, recipient) given to each of its parcels."""
    ttl, window = body.reservation_ttl_seconds, body.pickup_window_seconds
    recipient = body.recipient.to_domain() if body.recipient else None
    parcels = tuple(
        NewParcel(
            carrier_id=carrier_id,
            parcel_id=item.parcel_id,
            locker_id=body.locker_id,
            need=item.size_requirement(),
            reservation_ttl=None if ttl is None else _seconds(ttl),
            pickup_window=None if window is None else _seconds(window),
            reference=item.reference or body.reference,
            recipient=recipient,
        )
        for item in body.parcels
    )
    return NewBundle(
        carrier_id=carrier_id,
        bundle_id=body.bundle_id,
        locker_id=body.locker_id,
        parcels=parcels,
        reference=body.reference,
    )


async def create_bundle(request: web.Request) -> web.Response:
    body = await read_body(request, CreateBundleIn)
    answered = await bundles(request).create(
        new_bundle(carrier(request).carrier_id, body.model),
        idempotent(request, body, render_bundle),
    )
    return created(answered.answer, f"/v1/bundles/{quote(answered.answer['bundleId'], safe='')}")


async def get_bundle(request: web.Request) -> web.Response:
    bundle = await bundles(request).get(
        carrier(request).carrier_id, request.match_info["bundle_id"]
    )
    return json_response(render_bundle(bundle))


async def issue_bundle_code(request: web.Request) -> web.Response:
    # No Idempotency-Key, like a parcel's /codes: a retry replaces the code it issued.
    body = await read_body(request, IssueBundleCodeIn)
    purpose = None if body.model.purpose is None else OpenPurpose(body.model.purpose)
    issued = await bundles(request).issue_code(
        carrier(request).carrier_id, request.match_info["bundle_id"], purpose
    )
    return json_response(render_code(issued), status=201)


async def issue_bundle_grant(request: web.Request) -> web.Response:
    # No Idempotency-Key, like a parcel's /grants: a stored answer would keep a bearer token.
    body = await read_body(request, IssueBundleGrantIn)
    purpose = None if body.model.purpose is None else OpenPurpose(body.model.purpose)
    issued = await request.app[BUNDLE_GRANTS].issue(
        carrier(request).carrier_id, request.match_info["bundle_id"], purpose
    )
    return json_response(render_grant(issued), status=201)


def render_grant(issued: IssuedBundleGrant) -> JsonBody:
    return body_of(
        BundleGrantOut(
            token=issued.token,
            qr=issued.qr,
            action="deposit" if issued.purpose is OpenPurpose.DEPOSIT else "pickup",
            bundle_id=issued.bundle_id,
            locker_id=issued.locker_id,
            parcel_ids=[p.parcel_id for p in issued.parcels],
            compartment_codes=[p.compartment_code or "" for p in issued.parcels],
            not_before=issued.not_before,
            expires_at=issued.expires_at,
            kid=issued.kid,
        )
    )


def _seconds(value: int) -> timedelta:
    return timedelta(seconds=value)


BUNDLES = web.AppKey("bundles", BundleService)
BUNDLE_GRANTS = web.AppKey("bundle_grants", BundleGrants)


def bundles(request: web.Request) -> BundleService:
    return request.app[BUNDLES]


def add_routes(app: web.Application) -> None:
    shared = app[DEPS]
    # Built from the shared services; the code service's clock is the gateway's.
    app[BUNDLES] = BundleService(
        store=shared.store, parcels=shared.parcels, codes=shared.codes, clock=shared.codes.now
    )
    app[BUNDLE_GRANTS] = BundleGrants(
        store=shared.store,
        keys=shared.network_keys,
        max_lifetime=shared.grants.max_lifetime,
        clock=shared.codes.now,
    )
    r = app.router
    r.add_post("/v1/bundles", create_bundle)
    r.add_get("/v1/bundles/{bundle_id}", get_bundle)
    r.add_post("/v1/bundles/{bundle_id}/codes", issue_bundle_code)
    r.add_post("/v1/bundles/{bundle_id}/grants", issue_bundle_grant)
