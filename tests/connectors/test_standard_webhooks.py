"""The standard-webhooks connector: the payload shape, the contract, refused configs."""

from __future__ import annotations

import base64
import json
import os
import time
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from connectors.standard_webhooks import StandardWebhooksConfig, StandardWebhooksConnector
from gateway.delivery.auth import AuthContext, build_auth_plugin, parse_auth_config
from gateway.sdk.connectors import OLP_EVENT_TYPES, ConnectorConfigError, ConnectorEvent
from gateway.sdk.connectors.samples import sample_event, sample_events
from gateway.sdk.testing.connectors import ConnectorCase, ConnectorContract

URL = "https://hooks.acme.example/olp?tenant=7"


def connector(**config: Any) -> StandardWebhooksConnector:
    model = StandardWebhooksConfig.model_validate({"url": URL, **config})
    return StandardWebhooksConnector(config=model)


class TestStandardWebhooksContract(ConnectorContract):
    @pytest.fixture
    def connector_case(self) -> ConnectorCase:
        return ConnectorCase(
            connector=StandardWebhooksConnector,
            configs=[
                {"url": URL},
                {"url": "http://127.0.0.1:9/x", "headers": {"X-Route": "lockers"}},
                {"url": URL, "events": ["parcel.ready_for_pickup", "parcel.picked_up"]},
            ],
        )


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: e.type)
def test_every_event_type_renders_the_recommended_payload(event: ConnectorEvent) -> None:
    request = connector(headers={"X-Route": "lockers"}).render(event)

    assert request.method == "POST"
    assert request.url == URL
    assert request.headers == {"X-Route": "lockers", "content-type": "application/json"}
    payload = json.loads(request.body)
    assert list(payload) == ["type", "timestamp", "data"]
    assert payload["type"] == event.type
    occurred = event.model_dump(mode="json")["occurredAt"]
    assert payload["timestamp"] == occurred
    assert occurred.endswith("Z")
    data = payload["data"]
    assert data["eventId"] == event.event_id
    assert data["parcel"] == event.parcel.model_dump(mode="json")
    assert data["event"] == event.event.model_dump(mode="json")
    assert data["locker"] == event.locker.model_dump(mode="json") if event.locker else True
    assert {"networkId", "carrierId", "occurredAt", "type"} <= set(data)


def test_the_recipient_and_the_pickup_code_stay_out() -> None:
    event = sample_event("parcel.ready_for_pickup")
    assert event.recipient is not None
    assert event.access is not None
    body = connector().render(event).body.decode()

    assert "recipient" not in body
    assert "access" not in body
    for secret in ("Ada Example", "ada@example.org", "+48500100200", event.access.code):
        assert secret is not None
        assert secret not in body


def test_the_body_is_compact_and_the_same_bytes_every_time() -> None:
    event = sample_event("parcel.picked_up")
    first, second = connector().render(event), connector().render(event)
    assert first.body == second.body
    compact = json.dumps(json.loads(first.body), separators=(",", ":"), ensure_ascii=False)
    assert first.body == compact.encode()
    # Non-ASCII stays UTF-8 (the locker address), as JSON allows; nothing is escaped twice.
    assert "Przykładowa".encode() in first.body


def test_the_events_filter_selects_types() -> None:
    chosen = connector(events=["parcel.picked_up"])
    assert chosen.wants("parcel.picked_up")
    assert not chosen.wants("parcel.cancelled")
    assert all(connector().wants(t) for t in OLP_EVENT_TYPES)


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"url": "ftp://files.acme.example/in"}, "url"),
        ({"url": "hooks.acme.example/olp"}, "url"),
        ({"url": "https:///no-host"}, "url"),
        ({"url": "https://acme.example:99999/x"}, "url"),
        ({"url": URL, "headers": {"webhook-signature": "v1,forged"}}, "headers.webhook-signature"),
        ({"url": URL, "headers": {"Content-Type": "text/plain"}}, "headers.Content-Type"),
        ({"url": URL, "headers": {"Bad Header": "x"}}, "headers.Bad Header"),
        ({"url": URL, "headers": {"X-Split": "a\r\nInjected: yes"}}, "headers.X-Split"),
        ({"url": URL, "events": ["parcel.teleported"]}, "events[0]"),
    ],
)
def test_bad_configs_fail_at_construction_naming_the_field(
    config: dict[str, Any], named: str
) -> None:
    model = StandardWebhooksConfig.model_validate(config)
    with pytest.raises(ConnectorConfigError) as caught:
        StandardWebhooksConnector(config=model)
    assert f"standard-webhooks: {named}:" in caught.value.description
    # Never the URL or a header value: either may carry a credential.
    assert "a\r\nInjected" not in caught.value.description
    assert "forged" not in caught.value.description


def test_a_url_with_credentials_is_not_echoed_in_errors() -> None:
    model = StandardWebhooksConfig.model_validate({"url": "ftp://user:hunter2@acme.example/"})
    with pytest.raises(ConnectorConfigError) as caught:
        StandardWebhooksConnector(config=model)
    assert "hunter2" not in str(caught.value)


async def test_every_signed_request_verifies_with_the_standardwebhooks_library() -> None:
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    plugin = build_auth_plugin(
        parse_auth_config({"type": "standard-webhooks-v1", "secret": secret})
    )
    receiver = Webhook(secret)
    async with httpx.AsyncClient() as client:
        for attempt, event in enumerate(sample_events(), start=1):
            request = connector().render(event)
            context = AuthContext(
                event_id=event.event_id, attempt=attempt, unix_time=int(time.time())
            )
            signed = await plugin.apply(request, context, client)

            assert signed.body == request.body
            assert signed.url == URL
            assert signed.headers["content-type"] == "application/json"
            payload = receiver.verify(signed.body, dict(signed.headers))
            assert payload["type"] == event.type
            assert payload["data"]["eventId"] == event.event_id
            assert signed.headers["webhook-id"] == event.event_id
            with pytest.raises(WebhookVerificationError):
                receiver.verify(signed.body.replace(b"parcel.", b"parcel_"), dict(signed.headers))


async def test_v1a_signatures_verify_with_the_public_key() -> None:
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    auth = {
        "type": "standard-webhooks-v1a",
        "private_key": "whsk_" + base64.b64encode(seed).decode(),
    }
    plugin = build_auth_plugin(parse_auth_config(auth))
    public = key.public_key()
    event = sample_event("parcel.expired")
    async with httpx.AsyncClient() as client:
        context = AuthContext(event_id=event.event_id, attempt=1, unix_time=int(time.time()))
        signed = await plugin.apply(connector().render(event), context, client)
    # The standardwebhooks package verifies v1 only; v1a is Ed25519 over the same content.
    headers = signed.headers
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + signed.body
    version, signature = headers["webhook-signature"].split(",", 1)
    assert version == "v1a"
    public.verify(base64.b64decode(signature), content)  # raises InvalidSignature if wrong
