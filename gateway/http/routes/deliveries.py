"""Carrier routes over all of its delivery targets: list the deliveries, replay a dead letter."""

from __future__ import annotations

import re

from aiohttp import web

from gateway.domain.webhooks import DeliveryState
from gateway.errors import FieldIssue, ValidationFailed
from gateway.http import render
from gateway.http.bodies import idempotent, json_response, read_body
from gateway.http.context import carrier, deps
from gateway.http.query import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    enum_param,
    int_param,
    reject_unknown,
    text_param,
)
from gateway.wire import ReplayDeliveryIn

# delivery.json#/$defs/TargetId: a webhook id (a UUID) or an operator's attachment id.
TARGET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _target(request: web.Request) -> str | None:
    target = request.query.get("target")
    if target is not None and not TARGET_ID.match(target):
        detail = "must be a webhook or connector attachment id (letters, digits, '_', '.', '-')"
        raise ValidationFailed(
            f"query parameter 'target': {detail}",
            issues=(FieldIssue("/query/target", detail),),
        )
    return target


async def list_deliveries(request: web.Request) -> web.Response:
    reject_unknown(request, {"state", "target", "limit", "cursor"})
    items, next_cursor = await deps(request).deliveries.list(
        carrier(request).carrier_id,
        target_id=_target(request),
        state=enum_param(request, "state", DeliveryState),
        cursor=text_param(request, "cursor", 512),
        limit=int_param(request, "limit", PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX),
    )
    return json_response(render.delivery_page(items, next_cursor))


async def replay_delivery(request: web.Request) -> web.Response:
    body = await read_body(request, ReplayDeliveryIn)
    answered = await deps(request).deliveries.replay(
        carrier(request).carrier_id,
        int(request.match_info["delivery_id"]),
        idempotent(request, body, render.delivery),
    )
    return json_response(answered.answer)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/v1/deliveries", list_deliveries)
    # Ids are positive integers; anything else is no route at all (404), like an unknown id.
    r.add_post("/v1/deliveries/{delivery_id:[1-9][0-9]{0,17}}/replay", replay_delivery)
