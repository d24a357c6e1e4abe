"""What a transition queues, for whom; the attachment repository; the olp-webhooks bytes."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from connectors.olp_webhooks import OlpWebhooksConfig, OlpWebhooksConnector
from gateway.delivery.routes import TargetKind
from gateway.domain.delivery import AttachmentSource
from gateway.domain.webhooks import WebhookEventType
from gateway.errors import AlreadyExists
from gateway.sdk.connectors import ConnectorConfig, ConnectorConfigError, ConnectorEvent
from gateway.store import ConnectorAttachmentRecord, Store
from gateway.wire import WebhookEventOut, dump
from tests.delivery.engine_support import T0, add_carrier, event_body, rows
from tests.webhooks.conftest import FakeCarrier, Hooks, running


def attachment(attachment_id: str, **changes: object) -> ConnectorAttachmentRecord:
    record = ConnectorAttachmentRecord(
        id=attachment_id,
        carrier_id="acme",
        connector="standard-webhooks",
        config={"url": "https://carrier.example/in", "secret": "env:ACME_SECRET"},
        source=AttachmentSource.CONFIG,
        created_at=T0,
        updated_at=T0,
    )
    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]


async def test_the_attachment_repository(store: Store) -> None:
    await add_carrier(store)
    later = T0 + timedelta(hours=1)
    async with store.transaction() as tx:
        repo = tx.connector_attachments
        await repo.add(attachment("b-hooks", events=("parcel.ready_for_pickup",)))
        await repo.add(attachment("a-epcis", connector="epcis", auth={"kind": "api-key"}))
        with pytest.raises(AlreadyExists):
            await repo.add(attachment("a-epcis"))
        assert [a.id for a in await repo.list_active_for("acme")] == ["a-epcis", "b-hooks"]

        assert await repo.set_active("a-epcis", False, at=later, reason="operator: paused")
        assert not await repo.set_active("a-epcis", False, at=later, reason="again")
        with pytest.raises(ValueError, match="reason"):
            await repo.set_active("b-hooks", False, at=later)
        assert [a.id for a in await repo.list_active_for("acme")] == ["b-hooks"]

        # The settings file again at start-up: config is updated, the disable is kept.
        inserted = await repo.upsert(
            attachment(
                "a-epcis", connector="epcis", config={"url": "https://new"}, updated_at=later
            )
        )
        assert not inserted
        epcis = await repo.get("a-epcis")
        assert epcis is not None
        assert (epcis.active, epcis.disabled_reason) == (False, "operator: paused")
        assert (epcis.config, epcis.auth, epcis.created_at) == ({"url": "https://new"}, None, T0)
        assert await repo.upsert(attachment("c-new"))

        hooks = await repo.get("b-hooks")
        assert hooks is not None
        assert hooks.events == ("parcel.ready_for_pickup",)
        assert hooks.wants("parcel.ready_for_pickup")
        assert not hooks.wants("parcel.reserved")
        assert [a.id for a in await repo.list()] == ["a-epcis", "b-hooks", "c-new"]
        assert await repo.set_active("a-epcis", True, at=later)
        assert (await repo.get("a-epcis")).disabled_reason is None  # type: ignore[union-attr]
        assert await repo.remove("c-new")
        assert await repo.get("c-new") is None


@pytest.fixture
async def hooks(database_url: str) -> AsyncIterator[Hooks]:
    async with FakeCarrier() as receiver, running(database_url, receiver) as opened:
        yield opened


async def test_a_transition_queues_for_webhooks_and_wanting_attachments(hooks: Hooks) -> None:
    store = hooks.site.gateway.store
    sub = await hooks.subscribe()
    async with store.transaction() as tx:
        await tx.connector_attachments.add(attachment("every"))
        await tx.connector_attachments.add(attachment("ready-only", events=("parcel.reserved",)))
        await tx.connector_attachments.add(attachment("off", active=False, disabled_reason="x"))

    await hooks.book("Q-1")  # announced, reserved

    webhook_rows = await rows(store, sub["id"], TargetKind.WEBHOOK)
    every = await rows(store, "every")
    assert [d.type for d in webhook_rows] == ["parcel.announced", "parcel.reserved"]
    assert [d.type for d in every] == ["parcel.announced", "parcel.reserved"]
    assert [d.type for d in await rows(store, "ready-only")] == ["parcel.reserved"]
    assert await rows(store, "off") == []
    assert [d.event_id for d in every] == [d.event_id for d in webhook_rows]
    event = ConnectorEvent.from_json(every[1].body)
    assert event.network_id == "test-net"
    assert event.carrier_id == "acme"
    assert event.parcel.parcel_id == "Q-1"
    assert event.locker is not None
    assert event.locker.locker_id == "WAW-CENTRAL-01"
    assert event.locker.name == "Warszawa Centralna 1"
    assert event.locker.address == "Aleje Jerozolimskie 54, Warszawa"
    assert (event.locker.latitude, event.locker.longitude) == (52.2288, 21.0032)


def test_olp_webhooks_renders_exactly_the_published_webhook() -> None:
    body = event_body("P-7", 2)
    event = ConnectorEvent.from_json(body)
    connector = OlpWebhooksConnector(config=OlpWebhooksConfig(url="https://c.example/h"))

    request = connector.render(event)

    published = WebhookEventOut(
        event_id=event.event_id,
        type=WebhookEventType(event.type),
        occurred_at=event.occurred_at,
        carrier_id=event.carrier_id,
        parcel=event.parcel,
        event=event.event,
    )
    expected = json.dumps(dump(published), separators=(",", ":"), ensure_ascii=False).encode()
    assert request.body == expected
    assert request.url == "https://c.example/h"
    assert request.method == "POST"
    assert dict(request.headers) == {
        "Content-Type": "application/json",
        "OLP-Event-Id": event.event_id,
        "OLP-Event-Type": "parcel.reserved",
        "User-Agent": "OpenLocker-Webhooks/1.0",
    }
    with pytest.raises(ConnectorConfigError):
        OlpWebhooksConnector(config=ConnectorConfig())
