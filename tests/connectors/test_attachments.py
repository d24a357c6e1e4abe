"""Connector attachments: checked before they are stored, synced from settings, built as routes."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.delivery.attachment_routes import AttachmentRoutes
from gateway.delivery.routes import DeliveryPolicy, TargetKind
from gateway.domain.delivery import AttachmentSource
from gateway.errors import AlreadyExists, NotFound
from gateway.sdk.connectors import Capability, ConnectorConfigError, HttpRequest
from gateway.sdk.connectors.samples import sample_event
from gateway.service.connectors import (
    REMOVED_FROM_SETTINGS,
    SETTINGS_INACTIVE,
    ConnectorService,
    NewAttachment,
)
from gateway.settings import ConnectorAttachmentSettings
from gateway.store import CarrierRecord, Store

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DEFAULTS = DeliveryPolicy(timeout_s=7.0, max_attempts=5)
SECRET = "sk-live-very-secret-value-123"
URL = "https://carrier.example/hooks"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(seconds=1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def service(store: Store, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> ConnectorService:
    monkeypatch.setenv("ACME_KEY", SECRET)
    async with store.transaction() as tx:
        await tx.carriers.add(CarrierRecord("acme", "ACME", {"keys": []}, T0))
        await tx.carriers.add(CarrierRecord("globex", "Globex", {"keys": []}, T0))
    routes = AttachmentRoutes(store=store, defaults=DEFAULTS, clock=clock)
    return ConnectorService(store=store, routes=routes, clock=clock)


def entry(id: str = "acme-hooks", **changes: Any) -> ConnectorAttachmentSettings:
    values: dict[str, Any] = {
        "id": id,
        "carrier": "acme",
        "connector": "standard-webhooks",
        "config": {"url": URL},
        "auth": {"type": "api-key", "header": "X-Key", "value": "env:ACME_KEY"},
        "delivery": {"timeout_s": 3, "rate_per_s": 20},
        "events": ["parcel.ready_for_pickup", "parcel.picked_up"],
    }
    return ConnectorAttachmentSettings.model_validate(values | changes)


async def problems_of(service: ConnectorService, *entries: ConnectorAttachmentSettings) -> str:
    with pytest.raises(ConnectorConfigError) as caught:
        await service.start(entries)
    text = str(caught.value)
    assert SECRET not in text
    return text


# ---- building ------------------------------------------------------------------------------


async def test_a_good_attachment_builds_into_a_route_with_its_own_policy(
    service: ConnectorService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (built,) = await service.start([entry()])
    route = await service.routes.route(TargetKind.CONNECTOR, "acme-hooks")

    assert route is not None
    assert (route.kind, route.target_id, route.carrier_id) == (
        TargetKind.CONNECTOR,
        "acme-hooks",
        "acme",
    )
    assert route.policy == DeliveryPolicy(timeout_s=3.0, max_attempts=5, rate_per_s=20.0)
    # The attachment's events are the connector's filter too.
    assert route.connector.wants("parcel.picked_up")
    assert not route.connector.wants("parcel.announced")
    assert built.record.source is AttachmentSource.CONFIG
    # The row keeps the reference; the plugin got the value.
    assert built.record.auth == {"type": "api-key", "header": "X-Key", "value": "env:ACME_KEY"}
    request = route.connector.render(sample_event("parcel.picked_up"))
    assert isinstance(request, HttpRequest)
    assert request.url == URL
    assert await service.routes.route(TargetKind.WEBHOOK, "acme-hooks") is None
    assert "connector attachment acme-hooks: standard-webhooks for carrier acme" in caplog.text
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"connector": "no-such-connector"}, "connectors[acme-hooks].connector: no connector"),
        ({"carrier": "initech"}, "connectors[acme-hooks].carrier: no carrier 'initech'"),
        ({"config": {}}, "connectors[acme-hooks].config.url: Field required"),
        (
            {"config": {"url": URL, "colour": "red"}},
            "connectors[acme-hooks].config.colour: unknown key",
        ),
        ({"config": {"url": "ftp://x"}}, "connectors[acme-hooks].config: standard-webhooks: url"),
        ({"events": ["parcel.teleported"]}, "connectors[acme-hooks].events[0]: unknown event type"),
        (
            {"delivery": {"timeout_s": -1}},
            "connectors[acme-hooks].delivery.timeout_s: Input should be greater than 0",
        ),
        ({"delivery": {"retries": 3}}, "connectors[acme-hooks].delivery.retries: unknown key"),
        (
            {"auth": {"type": "carrier-pigeon"}},
            "connectors[acme-hooks].auth.type: unknown auth type",
        ),
        (
            {"auth": {"type": "api-key", "value": "env:NOT_SET_ANYWHERE"}},
            "connectors[acme-hooks].auth.value: environment variable NOT_SET_ANYWHERE is not set",
        ),
    ],
)
async def test_a_bad_attachment_stops_the_start_naming_the_field(
    service: ConnectorService, store: Store, change: dict[str, Any], expected: str
) -> None:
    text = await problems_of(service, entry(**change))

    assert expected in text
    async with store.transaction() as tx:
        assert await tx.connector_attachments.list() == []  # nothing written


async def test_every_bad_attachment_is_named_at_once_and_secrets_never_echoed(
    service: ConnectorService,
) -> None:
    # A secret typed into the wrong key must not reach the error text.
    wrong = entry("one", config={"url": URL, "pasword": SECRET})
    text = await problems_of(service, wrong, entry("two", connector="nope"), entry("three"))

    assert "connectors[one].config.pasword: unknown key" in text
    assert "connectors[two].connector" in text
    assert "three" not in text


async def test_a_mapping_that_does_not_compile_is_a_start_up_error(
    service: ConnectorService,
) -> None:
    bad_template = entry(
        connector="template",
        auth=None,
        config={
            "url": URL,
            "statuses": {"parcel.ready_for_pickup": "READY"},
            "body": "{{ event.type",
        },
    )
    text = await problems_of(service, bad_template)
    assert "connectors[acme-hooks].config" in text
    assert "does not compile" in text


# ---- syncing the settings file ---------------------------------------------------------------


async def test_a_restart_with_the_same_settings_changes_nothing(
    service: ConnectorService, clock: Clock
) -> None:
    (first,) = await service.start([entry()])
    clock.tick()
    await service.start([entry()])
    assert (await service.get("acme-hooks")).updated_at == first.record.updated_at
    clock.tick()
    await service.start([entry(config={"url": URL + "/v2"})])
    changed = await service.get("acme-hooks")
    assert changed.updated_at > first.record.updated_at
    assert changed.config == {"url": URL + "/v2"}


async def test_the_settings_file_disables_and_lifts_only_its_own_disables(
    service: ConnectorService, clock: Clock
) -> None:
    await service.start([entry(), entry("two")])
    await service.start([entry(active=False)])  # "two" removed from the file
    assert (await service.get("acme-hooks")).disabled_reason == SETTINGS_INACTIVE
    assert (await service.get("two")).disabled_reason == REMOVED_FROM_SETTINGS
    assert await service.routes.route(TargetKind.CONNECTOR, "two") is None

    await service.start([entry(), entry("two")])
    assert (await service.get("acme-hooks")).active
    assert (await service.get("two")).active

    # The operator's disable (or a 410) holds across restarts until `enable`.
    await service.disable("two", "carrier asked to pause")
    await service.start([entry(), entry("two")])
    paused = await service.get("two")
    assert (paused.active, paused.disabled_reason) == (False, "carrier asked to pause")
    assert (await service.enable("two")).active


async def test_the_cli_adds_checked_attachments_and_refuses_a_taken_id(
    service: ConnectorService,
) -> None:
    new = NewAttachment(
        id="globex-ce", carrier_id="globex", connector="cloudevents", config={"url": URL}
    )
    built = await service.add(new)
    assert built.record.source is AttachmentSource.CLI
    assert Capability.OUTBOUND_EVENTS in built.connector.capabilities
    with pytest.raises(AlreadyExists):
        await service.add(new)
    with pytest.raises(ConnectorConfigError, match=r"connectors\[x\]\.carrier: no carrier"):
        await service.add(
            NewAttachment(id="x", carrier_id="nobody", connector="cloudevents", config={"url": URL})
        )
    with pytest.raises(ConnectorConfigError, match=r"connectors\[bad id\]\.id"):
        await service.add(
            NewAttachment(
                id="bad id", carrier_id="acme", connector="cloudevents", config={"url": URL}
            )
        )
    # A settings file restart leaves the CLI's attachments alone, and builds them.
    built_all = await service.start([entry()])
    assert sorted(b.record.id for b in built_all) == ["acme-hooks", "globex-ce"]
    listed = {s.record.id: s for s in await service.list()}
    assert listed["globex-ce"].capabilities is not None
    assert (listed["globex-ce"].pending, listed["globex-ce"].dead) == (0, 0)


async def test_a_cli_attachment_whose_secret_is_gone_stops_the_start(
    service: ConnectorService, monkeypatch: pytest.MonkeyPatch
) -> None:
    await service.add(
        NewAttachment(
            id="cli-one",
            carrier_id="acme",
            connector="standard-webhooks",
            config={"url": URL},
            auth={"type": "api-key", "value": "env:ACME_KEY"},
        )
    )
    monkeypatch.delenv("ACME_KEY")
    text = await problems_of(service)
    assert "connectors[cli-one].auth.value: environment variable ACME_KEY is not set" in text


# ---- routes --------------------------------------------------------------------------------


async def test_routes_are_kept_until_the_row_changes(
    service: ConnectorService, clock: Clock
) -> None:
    await service.start([entry()])
    routes = service.routes
    first = await routes.attachment("acme-hooks")
    assert first is not None
    assert await routes.attachment("acme-hooks") is first
    clock.tick()
    await service.disable("acme-hooks", "maintenance")
    assert await routes.route(TargetKind.CONNECTOR, "acme-hooks") is None
    clock.tick()
    await service.enable("acme-hooks")
    again = await routes.attachment("acme-hooks")
    assert again is not None
    assert again is not first
    assert await routes.route(TargetKind.CONNECTOR, "nobody") is None


async def test_inbound_lookup_sees_only_the_carriers_own_active_attachment(
    service: ConnectorService,
) -> None:
    await service.start([entry()])
    connector = await service.get_for_carrier("acme", "acme-hooks")
    assert connector.name == "standard-webhooks"
    with pytest.raises(NotFound):
        await service.get_for_carrier("globex", "acme-hooks")
    with pytest.raises(NotFound):
        await service.get_for_carrier("acme", "no-such")
    await service.disable("acme-hooks", "paused")
    with pytest.raises(NotFound):
        await service.get_for_carrier("acme", "acme-hooks")


async def test_a_row_changed_elsewhere_into_something_unbuildable_routes_nowhere(
    service: ConnectorService, store: Store, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    (built,) = await service.start([entry()])
    clock.tick()
    # Another instance (a newer settings file) wrote a reference this host cannot resolve.
    changed = dataclasses.replace(
        built.record,
        auth={"type": "api-key", "value": "env:ONLY_ON_THE_OTHER_HOST"},
        updated_at=clock(),
    )
    async with store.transaction() as tx:
        await tx.connector_attachments.upsert(changed)

    assert await service.routes.route(TargetKind.CONNECTOR, "acme-hooks") is None
    assert "connectors[acme-hooks].auth.value: environment variable" in caplog.text


# ---- the stored events filter is what the connector really sends --------------------------


async def test_an_unset_filter_becomes_the_connectors_own_events(
    service: ConnectorService, store: Store
) -> None:
    # A notifier sends three event types by default: only those may be queued for it, or
    # every other transition would fill the outbox with rows it then skips.
    smtp = {"smtp": {"host": "127.0.0.1", "port": 2525}, "from_address": "lockers@net.example"}
    await service.start(
        [entry("acme-mail", connector="email", config=smtp, auth=None, events=None)]
    )
    async with store.transaction() as tx:
        record = await tx.connector_attachments.get("acme-mail")
    assert record is not None
    assert record.events is not None
    assert set(record.events) == {
        "parcel.ready_for_pickup",
        "parcel.pickup_reminder",
        "parcel.picked_up",
    }
    assert not record.wants("parcel.reserved")


async def test_an_unset_filter_stays_open_for_a_connector_that_sends_everything(
    service: ConnectorService, store: Store
) -> None:
    await service.start([entry("acme-all", events=None)])
    async with store.transaction() as tx:
        record = await tx.connector_attachments.get("acme-all")
    assert record is not None
    assert record.events is None
    assert record.wants("parcel.reserved")


async def test_a_refused_add_leaves_no_route_behind(
    service: ConnectorService, store: Store, clock: Clock
) -> None:
    # The add is refused (no such carrier) after its connector was built. Another instance
    # then stores an attachment with the same id at the same instant and another URL: its
    # route must be built from its own row, not from what the refused add built here.
    refused = NewAttachment(
        id="same-id", carrier_id="nobody", connector="cloudevents", config={"url": URL}
    )
    with pytest.raises(ConnectorConfigError):
        await service.add(refused)
    other = "https://other.example/ce"
    stored = dataclasses.replace(refused, carrier_id="acme", config={"url": other})
    async with store.transaction() as tx:
        await tx.connector_attachments.add(stored.record(AttachmentSource.CLI, clock()))

    route = await service.routes.route(TargetKind.CONNECTOR, "same-id")
    assert route is not None
    rendered = route.connector.render(sample_event("parcel.reserved"))
    assert isinstance(rendered, HttpRequest)
    assert rendered.url == other
