"""End to end: a real gateway sends a carrier's parcel events as signed Standard Webhooks."""

from __future__ import annotations

import base64
import os

from standardwebhooks import Webhook

from gateway.service.connectors import NewAttachment
from tests.webhooks.conftest import FakeCarrier, running

LIFECYCLE = ["parcel.announced", "parcel.reserved", "parcel.cancelled"]


async def test_a_booked_and_cancelled_parcel_arrives_as_verified_standard_webhooks(
    database_url: str,
) -> None:
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    async with FakeCarrier() as receiver, running(database_url, receiver) as hooks:
        await hooks.site.gateway.connectors.add(
            NewAttachment(
                id="acme-standard-webhooks",
                carrier_id="acme",
                connector="standard-webhooks",
                config={"url": receiver.url("/standard"), "headers": {"X-Route": "lockers"}},
                auth={"type": "standard-webhooks-v1", "secret": secret},
            )
        )
        await hooks.book("SW-0001")
        await hooks.cancel("SW-0001")
        await receiver.wait_for(len(LIFECYCLE), path="/standard")

    requests = receiver.delivered("/standard")
    verifier = Webhook(secret)
    payloads = [verifier.verify(r.body, r.headers) for r in requests]  # raises if forged
    assert [p["type"] for p in payloads] == LIFECYCLE
    for request, payload in zip(requests, payloads, strict=True):
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-route"] == "lockers"
        assert request.headers["webhook-id"] == payload["data"]["eventId"]
        assert payload["timestamp"] == payload["data"]["occurredAt"]
        assert payload["data"]["parcel"]["parcelId"] == "SW-0001"
        assert payload["data"]["carrierId"] == "acme"
    assert len({p["data"]["eventId"] for p in payloads}) == len(LIFECYCLE)
