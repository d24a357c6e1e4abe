"""What the engine tests share: a test connector and auth plugin, a route book, queued rows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from gateway.clock import Clock, utc_now
from gateway.delivery.auth.base import AuthContext
from gateway.delivery.engine import AccessHook, DeliveryEngine, EngineSettings
from gateway.delivery.routes import DeliveryPolicy, Route, RouteBook, TargetKind
from gateway.delivery.transports.base import Transport
from gateway.delivery.transports.http import HttpTransport
from gateway.domain.delivery import AttachmentSource
from gateway.domain.enums import Direction, ParcelState, SizeClass
from gateway.domain.webhooks import DeliveryState
from gateway.sdk.connectors import (
    Capability,
    Connector,
    ConnectorConfig,
    ConnectorEvent,
    HttpRequest,
    MappingError,
    MqttPublish,
    Outbound,
    SkipEvent,
)
from gateway.sdk.connectors.outbound import BrokerSpec
from gateway.store import (
    CarrierRecord,
    ConnectorAttachmentRecord,
    Delivery,
    NewDelivery,
    Store,
    UnitOfWork,
    WebhookSubscriptionRecord,
)
from gateway.wire import dump
from gateway.wire.parcels import ParcelEventOut, ParcelOut, RequestedOut
from tests.support.loopback import LOOPBACK

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CARRIER = "acme"
# Fast enough for tests: back-off of at most 50 ms, a short lease.
FAST = DeliveryPolicy(timeout_s=2.0, max_attempts=50, backoff_base_s=0.01, backoff_cap_s=0.05)


class ProbeConfig(ConnectorConfig):
    url: str


class ProbeConnector(Connector):
    """Renders a small JSON body; parcel ids steer it into each way a connector can fail."""

    name: ClassVar[str] = "probe"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.OUTBOUND_EVENTS})
    config_model: ClassVar[type[ConnectorConfig]] = ProbeConfig

    def __init__(self, *, config: ConnectorConfig) -> None:
        assert isinstance(config, ProbeConfig)
        super().__init__(config=config)
        self.url = config.url
        self.rendered = 0

    def render(self, event: ConnectorEvent) -> Outbound:
        self.rendered += 1
        pid = event.parcel.parcel_id
        if event.type == "parcel.cancelled":
            raise SkipEvent("cancellations are not sent to this carrier")
        if pid.startswith("UNMAPPABLE"):
            raise MappingError("no status code for this parcel", pointer="/parcel/parcelId")
        if pid.startswith("EXPLODE"):
            raise RuntimeError("a bug in the connector, quoting ada@example.org")
        if pid.startswith("MQTT"):
            return MqttPublish(broker=BrokerSpec(url="mqtt://127.0.0.1:1"), topic="t", payload=b"")
        body = {"eventId": event.event_id, "parcelId": pid, "seq": event.event.seq}
        headers = {
            "Content-Type": "application/json",
            "OLP-Event-Id": event.event_id,
            "OLP-Delivery-Attempt": "0",
        }
        return HttpRequest(url=self.url, body=json.dumps(body).encode(), headers=headers)


@dataclass
class TokenAuth:
    """A bearer token that changes when the endpoint says 401 (if `refreshable`)."""

    refreshable: bool = True
    generation: int = 1
    refused: int = 0

    async def apply(
        self, request: HttpRequest, context: AuthContext, client: httpx.AsyncClient
    ) -> HttpRequest:
        headers = {
            **request.headers,
            "Authorization": f"Bearer token-{self.generation}",
            "OLP-Delivery-Attempt": str(context.attempt),
        }
        return replace(request, headers=headers)

    def unauthorized(self) -> bool:
        self.refused += 1
        if self.refreshable:
            self.generation += 1
        return self.refreshable

    def ssl_context(self) -> ssl.SSLContext | None:
        return None


@dataclass
class Book:
    """A RouteBook over routes the test made."""

    routes: dict[tuple[TargetKind, str], Route] = field(default_factory=dict)
    refreshed: list[set[tuple[TargetKind, str]]] = field(default_factory=list)  # per claim

    def add(
        self,
        target_id: str,
        url: str,
        *,
        kind: TargetKind = TargetKind.CONNECTOR,
        policy: DeliveryPolicy = FAST,
        auth: Any = None,
    ) -> Route:
        route = Route(
            kind=kind,
            target_id=target_id,
            carrier_id=CARRIER,
            connector=ProbeConnector(config=ProbeConfig(url=url)),
            auth=auth or TokenAuth(),
            policy=policy,
        )
        self.routes[kind, target_id] = route
        return route

    async def route(self, kind: TargetKind, target_id: str) -> Route | None:
        return self.routes.get((kind, target_id))

    async def refresh(self, tx: UnitOfWork, targets: Collection[tuple[TargetKind, str]]) -> None:
        self.refreshed.append(set(targets))

    def disabled(self, kind: TargetKind, target_id: str) -> None:
        self.routes.pop((kind, target_id), None)


def event_body(parcel_id: str, seq: int, event_type: str = "parcel.reserved") -> dict[str, Any]:
    state = ParcelState(event_type.removeprefix("parcel."))
    at = T0 + timedelta(seconds=seq)
    event = ConnectorEvent(
        event_id=f"{parcel_id}/{seq}",
        type=event_type,
        occurred_at=at,
        network_id="test-net",
        carrier_id=CARRIER,
        parcel=ParcelOut(
            parcel_id=parcel_id,
            direction=Direction.LAST_MILE,
            state=state,
            locker_id="L1",
            compartment_code=None,
            requested=RequestedOut(size_class=SizeClass.S),
            reference=None,
            reserved_until=None,
            pickup_until=None,
            redirected_from=None,
            redirected_to=None,
            created_at=T0,
            updated_at=at,
        ),
        event=ParcelEventOut(
            seq=seq, type=event_type, from_state=None, to_state=state, at=at, details={}
        ),
    )
    return dump(event)


async def enqueue(
    store: Store,
    target_id: str,
    parcel_id: str,
    seq: int,
    *,
    event_type: str = "parcel.reserved",
    kind: TargetKind = TargetKind.CONNECTOR,
    at: datetime = T0,
) -> None:
    new = NewDelivery(
        f"{parcel_id}/{seq}",
        target_id,
        CARRIER,
        parcel_id,
        seq,
        event_type,
        event_body(parcel_id, seq, event_type),
        target_kind=kind,
    )
    async with store.transaction() as tx:
        assert await tx.outbox.enqueue(new, at=at)


async def add_carrier(store: Store) -> None:
    async with store.transaction() as tx:
        if await tx.carriers.get(CARRIER) is None:
            await tx.carriers.add(CarrierRecord(CARRIER, "ACME", {"keys": []}, T0))


async def add_attachment(
    store: Store, attachment_id: str, url: str, *, connector: str = "probe"
) -> None:
    await add_carrier(store)
    record = ConnectorAttachmentRecord(
        id=attachment_id,
        carrier_id=CARRIER,
        connector=connector,
        config={"url": url},
        source=AttachmentSource.CLI,
        created_at=T0,
        updated_at=T0,
    )
    async with store.transaction() as tx:
        await tx.connector_attachments.add(record)


async def add_subscription(store: Store, sub_id: str, url: str) -> None:
    await add_carrier(store)
    sub = WebhookSubscriptionRecord(sub_id, CARRIER, url, None, None, True, T0)
    async with store.transaction() as tx:
        await tx.webhooks.add(sub)


async def rows(
    store: Store, target_id: str, kind: TargetKind = TargetKind.CONNECTOR
) -> list[Delivery]:
    async with store.transaction() as tx:
        items, _ = await tx.outbox.page(target_id, kind=kind, limit=10_000)
    return items


async def settled(
    store: Store,
    target_id: str,
    count: int,
    *,
    kind: TargetKind = TargetKind.CONNECTOR,
    patience_s: float = 20,
) -> list[Delivery]:
    """The target's rows once there are `count` and none is pending."""
    async with asyncio.timeout(patience_s):
        while True:
            items = await rows(store, target_id, kind)
            if len(items) == count and all(d.state != DeliveryState.PENDING for d in items):
                return items
            await asyncio.sleep(0.02)


def make_engine(
    store: Store,
    book: RouteBook,
    *,
    transports: Mapping[type[Outbound], Transport] | None = None,
    clock: Clock = utc_now,
    access: AccessHook | None = None,
    lease_s: float = 10.0,
    max_in_flight: int = 16,
    poll_interval_s: float = 0.02,
) -> DeliveryEngine:
    return DeliveryEngine(
        store=store,
        routes=book,
        transports=transports
        if transports is not None
        else {HttpRequest: HttpTransport(clock=clock, allow_private=LOOPBACK)},
        settings=EngineSettings(
            poll_interval_s=poll_interval_s, lease_s=lease_s, max_in_flight=max_in_flight
        ),
        network_id="test-net",
        actor="gateway:test",
        access=access,
        clock=clock,
    )


@contextlib.asynccontextmanager
async def running(engine: DeliveryEngine) -> AsyncIterator[DeliveryEngine]:
    """The engine's loop as a named task for the block's lifetime."""
    async with engine, asyncio.TaskGroup() as group:
        task = group.create_task(engine.run_forever(), name="test-delivery-engine")
        try:
            yield engine
        finally:
            task.cancel()
