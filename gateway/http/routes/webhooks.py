"""Carrier webhook routes: subscribe, list, read, delete, and the deliveries (dead letters too)."""

from __future__ import annotations

from aiohttp import web

from gateway.domain.webhooks import DeliveryState
from gateway.http import render
from gateway.http.bodies import created, idempotent, json_response, read_body
from gateway.http.context import carrier, deps
from gateway.http.query import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    enum_param,
    int_param,
    reject_unknown,
    text_param,
)
from gateway.wire import CreateWebhookIn, RetryDeliveryIn


async def create_webhook(request: web.Request) -> web.Response:
    body = await read_body(request, CreateWebhookIn)
    answered = await deps(request).webhooks.create(
        carrier(request).carrier_id,
        idempotent(request, body, render.webhook),
        url=body.model.url,
        events=body.model.events,
        description=body.model.description,
    )
    return created(answered.answer, f"/v1/webhooks/{answered.answer['id']}")


async def list_webhooks(request: web.Request) -> web.Response:
    reject_unknown(request, set())
    subs = await deps(request).webhooks.list(carrier(request).carrier_id)
    return json_response(render.webhook_list(subs))


async def get_webhook(request: web.Request) -> web.Response:
    sub = await deps(request).webhooks.get(
        carrier(request).carrier_id, request.match_info["webhook_id"]
    )
    return json_response(render.webhook(sub))


async def delete_webhook(request: web.Request) -> web.Response:
    await deps(request).webhooks.delete(
        carrier(request).carrier_id, request.match_info["webhook_id"]
    )
    return web.Response(status=204)


async def list_deliveries(request: web.Request) -> web.Response:
    reject_unknown(request, {"state", "limit", "cursor"})
    items, next_cursor = await deps(request).webhooks.deliveries(
        carrier(request).carrier_id,
        request.match_info["webhook_id"],
        state=enum_param(request, "state", DeliveryState),
        cursor=text_param(request, "cursor", 256),
        limit=int_param(request, "limit", PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX),
    )
    return json_response(render.webhook_delivery_page(items, next_cursor))


async def retry_delivery(request: web.Request) -> web.Response:
    body = await read_body(request, RetryDeliveryIn)
    answered = await deps(request).webhooks.retry(
        carrier(request).carrier_id,
        request.match_info["webhook_id"],
        int(request.match_info["delivery_id"]),
        idempotent(request, body, render.webhook_delivery),
    )
    return json_response(answered.answer)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/v1/webhooks", create_webhook)
    r.add_get("/v1/webhooks", list_webhooks)
    r.add_get("/v1/webhooks/{webhook_id}", get_webhook)
    r.add_delete("/v1/webhooks/{webhook_id}", delete_webhook)
    r.add_get("/v1/webhooks/{webhook_id}/deliveries", list_deliveries)
    # Ids are positive integers; anything else is no route at all (404), like an unknown id.
    r.add_post(
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id:[1-9][0-9]{0,17}}/retry",
        retry_delivery,
    )
