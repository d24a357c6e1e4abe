"""A gateway's notification path without HTTP: store, services, attachments, the real engine.

Parcels are booked and moved by `ParcelService`; the delivery engine (real transports, the
real access hook) sends what the outbox holds to a real aiosmtpd server or a mocked SMS API.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from gateway.delivery.attachment_routes import AttachmentRoutes
from gateway.delivery.engine import DeliveryEngine, EngineSettings
from gateway.delivery.routes import DeliveryPolicy, Route
from gateway.delivery.transports.http import HttpTransport
from gateway.delivery.transports.smtp import SmtpTransport
from gateway.domain.delivery import AttachmentSource, TargetKind
from gateway.domain.enums import ParcelAction, SizeClass
from gateway.domain.recipients import Recipient
from gateway.domain.sizes import SizeRequirement
from gateway.http import render
from gateway.sdk.connectors import ConnectorEvent, EmailMessage, HttpRequest
from gateway.service.carriers import CarrierService
from gateway.service.codes import CodeService
from gateway.service.grants import GrantService
from gateway.service.idempotency import IdempotencyKey, Idempotent
from gateway.service.notify_access import NotifyAccess
from gateway.service.parcels import NewParcel, ParcelService
from gateway.store import ConnectorAttachmentRecord, Delivery, Store
from gateway.tokens.network_keys import NetworkKeys
from tests.connectors.notify_support import EMAIL, NAME, PERSONAL, PHONE
from tests.store.builders import compartments, locker
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.loopback import LOOPBACK
from tests.support.smtpd import SmtpServer, smtp_server

NETWORK = "notify-net"
CARRIER = "acme"
LOCKER = "WAW-NOTIFY-01"
PICKUP_WINDOW = timedelta(hours=72)
NOTIFIER_EVENTS = ("parcel.ready_for_pickup", "parcel.pickup_reminder", "parcel.picked_up")


@dataclass
class World:
    store: Store
    clock: MovableClock
    keys: NetworkKeys
    codes: CodeService
    grants: GrantService
    parcels: ParcelService
    smtp: SmtpServer
    issued: list[ConnectorEvent] = field(default_factory=list)

    def engine(self) -> DeliveryEngine:
        hook = NotifyAccess(codes=self.codes, grants=self.grants)

        async def spy(event: ConnectorEvent, route: Route) -> ConnectorEvent:
            # What the hook handed the connector: the test's only view of the QR's grant.
            filled = await hook(event, route)
            self.issued.append(filled)
            return filled

        policy = DeliveryPolicy(timeout_s=5, max_attempts=4, backoff_base_s=10, backoff_cap_s=60)
        return DeliveryEngine(
            store=self.store,
            routes=AttachmentRoutes(store=self.store, defaults=policy, clock=self.clock),
            transports={
                EmailMessage: SmtpTransport(),
                HttpRequest: HttpTransport(clock=self.clock, allow_private=LOOPBACK),
            },
            settings=EngineSettings(lease_s=30),
            network_id=NETWORK,
            actor="gateway:test",
            access=spy,
            clock=self.clock,
        )

    async def deliver(self) -> int:
        async with self.engine() as engine:
            return await engine.run_once()

    async def attach(
        self,
        attachment_id: str,
        connector: str,
        config: dict[str, Any],
        events: tuple[str, ...] | None = NOTIFIER_EVENTS,
        **extra: Any,
    ) -> None:
        now = self.clock()
        record = ConnectorAttachmentRecord(
            id=attachment_id,
            carrier_id=CARRIER,
            connector=connector,
            config=config,
            source=AttachmentSource.CLI,
            created_at=now,
            updated_at=now,
            events=events,
            **extra,
        )
        async with self.store.transaction() as tx:
            await tx.connector_attachments.add(record)

    async def attach_email(self, **config: Any) -> None:
        values = {
            "smtp": {"host": self.smtp.host, "port": self.smtp.port, "starttls": False},
            "from_address": "parcels@network.example",
        } | config
        await self.attach(
            "mail", "email", values, events=tuple(values.get("events", NOTIFIER_EVENTS))
        )

    async def book(self, parcel_id: str, recipient: Recipient | None) -> str:
        cmd = NewParcel(
            carrier_id=CARRIER,
            parcel_id=parcel_id,
            locker_id=LOCKER,
            need=SizeRequirement(SizeClass.S),
            recipient=recipient,
        )
        key = IdempotencyKey(f"book-{parcel_id}", parcel_id)
        await self.parcels.create(cmd, Idempotent(key, render.parcel))
        return (await self.parcels.get(CARRIER, parcel_id)).uid

    async def ready(self, parcel_id: str, recipient: Recipient | None) -> str:
        uid = await self.book(parcel_id, recipient)
        await self.parcels.apply_action(uid, ParcelAction.DEPOSIT)
        return uid

    async def rows(self, target_id: str = "mail") -> list[Delivery]:
        async with self.store.transaction() as tx:
            rows, _ = await tx.outbox.page(target_id, kind=TargetKind.CONNECTOR, limit=200)
        return rows


def recipient(**changes: Any) -> Recipient:
    values: dict[str, Any] = {"name": NAME, "email": EMAIL, "phone": PHONE, "language": "pl"}
    return Recipient(**(values | changes))


@pytest.fixture
async def world(store: Store) -> AsyncIterator[World]:
    clock = MovableClock()
    carrier = TestCarrier.ed25519(CARRIER, NETWORK)
    await CarrierService(store=store, clock=clock).register(CARRIER, carrier.jwks)
    async with store.transaction() as tx:
        await tx.lockers.add(
            locker(LOCKER, name="Centrum 01"), compartments(LOCKER, [SizeClass.S] * 8)
        )
    keys = NetworkKeys(store=store, issuer=NETWORK, publish_lead=timedelta(0), clock=clock)
    await keys.ensure()
    codes = CodeService(store=store, clock=clock)
    grants = GrantService(store=store, keys=keys, max_lifetime=timedelta(hours=24), clock=clock)
    parcels = ParcelService(
        store=store,
        reservation_ttl=timedelta(hours=24),
        pickup_window=PICKUP_WINDOW,
        clock=clock,
        network_id=NETWORK,
    )
    with smtp_server() as smtp:
        yield World(store, clock, keys, codes, grants, parcels, smtp)


# Loggers that see requests as they are built or sent: at DEBUG, the most they ever say.
# Everything else at INFO (a database driver's DEBUG trace prints every SQL parameter;
# no deployment runs it, and it is not ours to keep quiet).
_CLOSE_LOGGERS = ("gateway", "connectors", "aiosmtplib", "httpx", "httpcore", "jinja2")


@pytest.fixture(autouse=True)
def no_personal_data_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every log record of the gateway, the connectors and the transport libraries (DEBUG)
    and of everything else (INFO) is free of recipient data.

    aiosmtpd's own `mail.log` is the test's SMTP server (the recipient's side), not ours.
    """
    caplog.set_level(logging.INFO)
    for name in _CLOSE_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    text = "\n".join(f"{r.name}: {r.getMessage()} {r.exc_text or ''}" for r in ours)
    leaked = [item for item in PERSONAL if item in text]
    assert not leaked, f"personal data in the logs: {leaked}"
