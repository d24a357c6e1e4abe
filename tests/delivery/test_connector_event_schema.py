"""What the outbox stores for a connector is a valid `connector-event.json`, with or without
the recipient (which only a notifier's rows carry)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from gateway.domain.delivery import AttachmentSource
from gateway.errors import ValidationFailed
from gateway.spec import Spec
from gateway.store import ConnectorAttachmentRecord, Store
from tests.delivery.engine_support import T0, rows
from tests.support.smtpd import SmtpServer, smtp_server
from tests.webhooks.conftest import FakeCarrier, Hooks, running

RECIPIENT = {
    "name": "Zofia Żółkiewska",
    "email": "zofia.recipient@example.org",
    "phone": "+48601234567",
    "language": "pl-PL",
}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
async def hooks(database_url: str, smtp: SmtpServer) -> AsyncIterator[Hooks]:
    async with FakeCarrier() as receiver, running(database_url, receiver) as opened:
        # Both attachments build and send for real, so the engine never disables one of
        # them between the two bookings below.
        await attach(
            opened.site.gateway.store,
            "mail",
            "email",
            {
                "smtp": {"host": smtp.host, "port": smtp.port, "starttls": False},
                "from_address": "parcels@network.example",
            },
        )
        await attach(opened.site.gateway.store, "push", "olp-webhooks", {"url": receiver.url()})
        yield opened


async def attach(store: Store, attachment_id: str, connector: str, config: dict[str, Any]) -> None:
    record = ConnectorAttachmentRecord(
        id=attachment_id,
        carrier_id="acme",
        connector=connector,
        config=config,
        source=AttachmentSource.CLI,
        created_at=T0,
        updated_at=T0,
    )
    async with store.transaction() as tx:
        await tx.connector_attachments.add(record)


async def test_stored_bodies_validate_against_connector_event(hooks: Hooks) -> None:
    spec: Spec = hooks.site.spec
    store = hooks.site.gateway.store

    await hooks.book("CE-1", recipient={**RECIPIENT, "optOut": False})
    await hooks.book("CE-2")  # no recipient at all

    mail = {(r.parcel_seq, r.body["parcel"]["parcelId"]): r.body for r in await rows(store, "mail")}
    push = {(r.parcel_seq, r.body["parcel"]["parcelId"]): r.body for r in await rows(store, "push")}
    every = [(1, "CE-1"), (2, "CE-1"), (1, "CE-2"), (2, "CE-2")]  # announced, reserved
    assert sorted(mail) == sorted(push) == sorted(every)
    for body in [*mail.values(), *push.values()]:
        spec.validate("connector-event", body)
        assert body["networkId"] == "test-net"
        assert body["locker"]["lockerId"] == "WAW-CENTRAL-01"
        assert "access" not in body  # issued at send time, never stored

    # The recipient: in the notifier's rows of the parcel that has one, nowhere else.
    assert mail[1, "CE-1"]["recipient"] == {**RECIPIENT, "optOut": False}
    assert mail[2, "CE-1"]["recipient"] == mail[1, "CE-1"]["recipient"]
    assert "recipient" not in mail[1, "CE-2"]
    assert not any("recipient" in body for body in push.values())


async def test_the_schema_rejects_what_a_connector_could_not_use(hooks: Hooks) -> None:
    spec: Spec = hooks.site.spec
    await hooks.book("CE-3", recipient=RECIPIENT)
    [first, *_] = await rows(hooks.site.gateway.store, "mail")
    spec.validate("connector-event", first.body)

    broken = [
        {k: v for k, v in first.body.items() if k != "networkId"},
        {**first.body, "recipient": {**first.body["recipient"], "phone": "601 234 567"}},
        {**first.body, "locker": {"name": "Centrum"}},
        {**first.body, "access": {"code": "12-34"}},
    ]
    for body in broken:
        with pytest.raises(ValidationFailed):
            spec.validate("connector-event", body)
