"""What a route is handed from an outbox row: its own carrier's rows, personal data only for
notifiers."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from gateway.delivery.routes import Route, TargetKind
from gateway.delivery.stored_events import read_event
from gateway.domain.webhooks import DeliveryState
from gateway.sdk.connectors import Capability, Connector, ConnectorConfig
from gateway.store import Delivery, Store
from tests.delivery.engine_support import (
    CARRIER,
    FAST,
    T0,
    Book,
    ProbeConfig,
    ProbeConnector,
    TokenAuth,
    enqueue,
    event_body,
    make_engine,
    rows,
)
from tests.webhooks.conftest import FakeCarrier


@pytest.fixture
async def receiver() -> AsyncIterator[FakeCarrier]:
    async with FakeCarrier() as carrier:
        yield carrier


RECIPIENT = {"name": "Ada Lovelace", "email": "ada@example.org", "language": "en"}


class Notifier(ProbeConnector):
    name: ClassVar[str] = "probe-notifier"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.RECIPIENT_NOTIFICATIONS})


def route_for(connector: Connector, carrier_id: str = CARRIER) -> Route:
    return Route(
        kind=TargetKind.CONNECTOR,
        target_id="c1",
        carrier_id=carrier_id,
        connector=connector,
        auth=TokenAuth(),
        policy=FAST,
    )


def row(body: dict[str, Any]) -> Delivery:
    return Delivery(
        id=1,
        event_id="P-1/1",
        target_kind=TargetKind.CONNECTOR,
        target_id="c1",
        carrier_id=CARRIER,
        parcel_uid="P-1",
        parcel_seq=1,
        type="parcel.ready_for_pickup",
        body=body,
        state=DeliveryState.PENDING,
        attempts=1,
        next_attempt_at=None,
        last_error=None,
        last_status=None,
        created_at=T0,
        delivered_at=None,
    )


def stored_with_recipient() -> dict[str, Any]:
    body = event_body("P-1", 1, "parcel.ready_for_pickup")
    body["recipient"] = RECIPIENT
    return body


def test_only_a_notifier_is_handed_the_recipient() -> None:
    config: ConnectorConfig = ProbeConfig(url="http://127.0.0.1:9/hook")
    delivery = row(stored_with_recipient())

    plain = read_event(delivery, route_for(ProbeConnector(config=config)), network_id="n")
    notifier = read_event(delivery, route_for(Notifier(config=config)), network_id="n")

    assert plain.recipient is None
    assert notifier.recipient is not None
    assert notifier.recipient.email == RECIPIENT["email"]


async def test_a_row_never_reaches_another_carriers_target(
    store: Store, receiver: FakeCarrier
) -> None:
    book = Book()
    route = book.add("c1", receiver.url())
    book.routes[TargetKind.CONNECTOR, "c1"] = dataclasses.replace(route, carrier_id="globex")
    await enqueue(store, "c1", "P-ELSEWHERE", 1)

    async with make_engine(store, book) as engine:
        assert await engine.run_once() == 1

    assert receiver.received == []
    (settled,) = await rows(store, "c1")
    assert settled.state is DeliveryState.DEAD
    assert settled.last_error is not None
    assert "another carrier" in settled.last_error
