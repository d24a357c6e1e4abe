"""Migration 0007 keeps every queued webhook delivery: kind "webhook", target = subscription."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import text

from gateway.delivery.routes import TargetKind
from gateway.domain.webhooks import DeliveryState
from gateway.store import Store
from gateway.store.migrations import alembic_config
from tests.delivery.engine_support import enqueue, rows
from tests.store.test_migrations import drift

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def to_revision(store: Store, revision: str) -> None:
    async with store.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), revision))


@pytest.fixture
async def at_0006(store: Store) -> AsyncIterator[Store]:
    """The store migrated back to 0006; brought to head again afterwards for the next test."""
    await to_revision(store, "0006")
    try:
        yield store
    finally:
        await store.migrate()


async def test_queued_webhook_rows_survive_the_upgrade(at_0006: Store) -> None:
    store = at_0006
    old_body = {"eventId": "e-1", "type": "parcel.reserved", "parcel": {"parcelId": "P-1"}}
    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO carriers (id, name, jwks, created_at) VALUES ('acme', 'A', '{}', :t)"
            ),
            {"t": T0},
        )
        await conn.execute(
            text(
                "INSERT INTO webhook_subscriptions (id, carrier_id, url, active, created_at)"
                " VALUES ('sub-1', 'acme', 'http://x.test/h', true, :t)"
            ),
            {"t": T0},
        )
        for n, state in enumerate(("pending", "dead"), start=1):
            await conn.execute(
                text(
                    "INSERT INTO outbox (id, event_id, subscription_id, carrier_id, parcel_uid,"
                    " parcel_seq, type, body, state, attempts, next_attempt_at, last_error,"
                    " created_at) VALUES (:id, :event, 'sub-1', 'acme', 'uid-1', :seq,"
                    " 'parcel.reserved', :body, :state, 3, :t, 'HTTP 500', :t)"
                ),
                {
                    "id": 40 + n,
                    "event": f"e-{n}",
                    "seq": n,
                    "body": '{"eventId": "e-1", "type": "parcel.reserved",'
                    ' "parcel": {"parcelId": "P-1"}}',
                    "state": state,
                    "t": T0,
                },
            )

    await store.migrate()

    assert await drift(store) == []
    first, second = await rows(store, "sub-1", TargetKind.WEBHOOK)
    assert (first.id, first.target_kind, first.target_id) == (41, TargetKind.WEBHOOK, "sub-1")
    assert (first.state, first.attempts, first.last_error) == (DeliveryState.PENDING, 3, "HTTP 500")
    assert first.body == old_body
    assert (second.id, second.state, second.event_id) == (42, DeliveryState.DEAD, "e-2")
    # The unique key is now per target: the same event may go to a connector of that name too.
    await enqueue(store, "sub-1", "P-1", 1, kind=TargetKind.CONNECTOR)


async def test_downgrade_keeps_webhook_rows_and_drops_connector_rows(store: Store) -> None:
    async with store.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO carriers (id, name, jwks, created_at) VALUES ('acme', 'A', '{}', :t)"
            ),
            {"t": T0},
        )
        await conn.execute(
            text(
                "INSERT INTO webhook_subscriptions (id, carrier_id, url, active, created_at)"
                " VALUES ('sub-1', 'acme', 'http://x.test/h', true, :t)"
            ),
            {"t": T0},
        )
    await enqueue(store, "sub-1", "P-1", 1, kind=TargetKind.WEBHOOK)
    await enqueue(store, "att-1", "P-1", 1, kind=TargetKind.CONNECTOR)

    await to_revision(store, "0006")
    try:
        async with store.engine.connect() as conn:
            left = (await conn.execute(text("SELECT subscription_id FROM outbox"))).all()
        assert [tuple(row) for row in left] == [("sub-1",)]
    finally:
        await store.migrate()
    assert await drift(store) == []
