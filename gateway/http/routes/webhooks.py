"""Carrier webhook routes: subscribe, list, read, delete, and the deliveries (dead letters too)."""

from __future__ import annotations

from aiohttp import web

from gateway.domain.webhooks import DeliveryState
from gateway.http.bodies import idempotency_key, json_response, read_json
from gateway.http.context import carrier, deps
from gateway.http.query import enum_param, int_param, reject_unknown, text_param
from gateway.service.webhooks import delivery_to_wire, subscription_to_wire
from gateway.wire import CreateWebhookIn, WebhookDeliveryListOut, WebhookListOut, dump


async def create_webhook(request: web.Request) -> web.Response:
    data = await read_json(request, "create-webhook-request")
    idem = idempotency_key(request, data)
    body = CreateWebhookIn.model_validate(data)
    answer = await deps(request).webhooks.create(
        carrier(request).carrier_id,
        idem,
        url=body.url,
        events=body.events,
        description=body.description,
    )
    response = json_response(answer, status=201)
    response.headers["Location"] = f"/v1/webhooks/{answer['id']}"
    return response


async def list_webhooks(request: web.Request) -> web.Response:
    reject_unknown(request, set())
    subs = await deps(request).webhooks.list(carrier(request).carrier_id)
    return json_response(dump(WebhookListOut(items=[subscription_to_wire(s) for s in subs])))


async def get_webhook(request: web.Request) -> web.Response:
    sub = await deps(request).webhooks.get(
        carrier(request).carrier_id, request.match_info["webhook_id"]
    )
    return json_response(dump(subscription_to_wire(sub)))


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
        limit=int_param(request, "limit", 50, 1, 200),
    )
    page = WebhookDeliveryListOut(
        items=[delivery_to_wire(d) for d in items], next_cursor=next_cursor
    )
    return json_response(dump(page))


async def retry_delivery(request: web.Request) -> web.Response:
    data = await read_json(request, "retry-delivery-request")
    idem = idempotency_key(request, data)
    answer = await deps(request).webhooks.retry(
        carrier(request).carrier_id,
        request.match_info["webhook_id"],
        int(request.match_info["delivery_id"]),
        idem,
    )
    return json_response(answer)


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
