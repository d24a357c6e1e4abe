"""A carrier's connector endpoints: pre-advice in its own JSON, status pull in its words."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.errors import ErrorCode, MalformedMessage, OpenLockerError
from gateway.http import render
from gateway.http.bodies import created, idempotency_key, json_response, parse_json
from gateway.http.context import carrier
from gateway.sdk.connectors import InboundRequest
from gateway.service.idempotency import Idempotent
from gateway.service.inbound import InboundService

INBOUND = web.AppKey("inbound", InboundService)

# Request headers a connector may read: never the carrier's credentials.
_HIDDEN_HEADERS = {"authorization", "cookie", "proxy-authorization"}


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


async def _shipment(request: web.Request) -> tuple[bytes, Any]:
    """The raw body and its JSON: 413 past the body limit, 415 unless JSON, 400 if malformed."""
    raw = await request.read()  # aiohttp enforces client_max_size here (413)
    if not raw.strip():
        raise MalformedMessage("send the shipment as a JSON body")
    if not _is_json(request.content_type):
        raise OpenLockerError(
            f"send application/json, not {request.content_type or 'nothing'}",
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        )
    return raw, parse_json(raw)


async def inbound_preadvice(request: web.Request) -> web.Response:
    raw, data = await _shipment(request)
    idem = Idempotent(idempotency_key(request, data), render.parcel)
    shipment = InboundRequest(
        body=raw,
        content_type=request.content_type,
        headers={k: v for k, v in request.headers.items() if k.lower() not in _HIDDEN_HEADERS},
    )
    answered = await request.app[INBOUND].announce(
        carrier(request).carrier_id, request.match_info["attachment_id"], shipment, idem
    )
    return created(answered.answer, f"/v1/parcels/{answered.answer['parcelId']}")


async def parcel_status(request: web.Request) -> web.Response:
    answer = await request.app[INBOUND].status(
        carrier(request).carrier_id,
        request.match_info["attachment_id"],
        request.match_info["parcel_id"],
    )
    return json_response(answer)


def add_routes(app: web.Application, inbound: InboundService) -> None:
    app[INBOUND] = inbound
    r = app.router
    r.add_post("/v1/connectors/{attachment_id}/inbound", inbound_preadvice)
    r.add_get("/v1/connectors/{attachment_id}/parcels/{parcel_id}", parcel_status)
