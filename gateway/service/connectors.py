"""Connector attachments: the settings file's synced into the table, the CLI's added, all built.

At start-up the gateway calls `start`: every `[[connectors]]` table is checked (its carrier,
connector, config, auth and delivery options, secrets resolved) before anything is written,
then written, then every active attachment in the table (the CLI's too) is built. Any problem
stops the start with one error that names each bad attachment and field.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from datetime import datetime
from ipaddress import IPv4Network, IPv6Network
from typing import Any

import httpx
from pydantic import BaseModel, SecretStr

from gateway.clock import Clock, utc_now
from gateway.delivery.attachment_routes import AttachmentInvalid, AttachmentRoutes, BuiltAttachment
from gateway.delivery.attachment_secrets import open_record, seal_record
from gateway.delivery.auth import (
    AuthContext,
    AuthFailed,
    parse_auth_config,
    resolve_model_secrets,
)
from gateway.delivery.routes import DeliveryPolicy
from gateway.delivery.transports.base import Outcome, Transport
from gateway.delivery.transports.http import HttpTransport
from gateway.delivery.transports.mqtt import MqttTransport
from gateway.delivery.transports.smtp import SmtpTransport
from gateway.domain.delivery import AttachmentSource, TargetKind
from gateway.domain.webhooks import DeliveryState
from gateway.errors import FieldIssue, NotFound, ValidationFailed
from gateway.sdk.connectors import (
    Capability,
    Connector,
    ConnectorConfigError,
    EmailMessage,
    HttpRequest,
    MqttPublish,
    Outbound,
    load_connector_class,
)
from gateway.settings import ATTACHMENT_ID_PATTERN, ConnectorAttachmentSettings, Settings
from gateway.store import ConnectorAttachmentRecord, Store, UnitOfWork
from gateway.tokens.sealing import Keyring

__all__ = [
    "REMOVED_FROM_SETTINGS",
    "SETTINGS_INACTIVE",
    "AttachmentSummary",
    "ConnectorService",
    "NewAttachment",
    "Preview",
]

log = logging.getLogger(__name__)

# Reasons the settings file gives for an inactive attachment; only these does it lift again.
SETTINGS_INACTIVE = "inactive in the settings file"
REMOVED_FROM_SETTINGS = "removed from the settings file"
_COUNT_CAP = 1000  # `connectors list` counts outbox rows up to this many per state


@dataclass(frozen=True, slots=True)
class NewAttachment:
    """An attachment as the operator gives it (settings file or CLI), not yet checked."""

    id: str
    carrier_id: str
    connector: str
    config: Mapping[str, Any] = dataclass_field(repr=False)  # both may hold literal secrets
    auth: Mapping[str, Any] | None = dataclass_field(default=None, repr=False)
    delivery: Mapping[str, Any] | None = None
    events: tuple[str, ...] | None = None
    active: bool = True

    @classmethod
    def from_settings(cls, entry: ConnectorAttachmentSettings) -> NewAttachment:
        return cls(
            id=entry.id,
            carrier_id=entry.carrier,
            connector=entry.connector,
            config=entry.config,
            auth=entry.auth,
            delivery=entry.delivery or None,
            events=None if entry.events is None else tuple(entry.events),
            active=entry.active,
        )

    def record(self, source: AttachmentSource, at: datetime) -> ConnectorAttachmentRecord:
        return ConnectorAttachmentRecord(
            id=self.id,
            carrier_id=self.carrier_id,
            connector=self.connector,
            config=dict(self.config),
            auth=None if self.auth is None else dict(self.auth),
            delivery=None if self.delivery is None else dict(self.delivery),
            events=self.events,
            active=self.active,
            disabled_reason=None if self.active else SETTINGS_INACTIVE,
            source=source,
            created_at=at,
            updated_at=at,
        )


@dataclass(frozen=True, slots=True)
class AttachmentSummary:
    """One line of `connectors list`: the row, what its connector can do, its queue."""

    record: ConnectorAttachmentRecord
    capabilities: tuple[Capability, ...] | None  # None: the connector is not installed
    pending: int
    dead: int


@dataclass(frozen=True, slots=True)
class Preview:
    """What `connectors test` shows: the request as the auth plugin leaves it, if it could."""

    outbound: Outbound
    note: str | None = None


class ConnectorService:
    def __init__(
        self,
        *,
        store: Store,
        routes: AttachmentRoutes,
        clock: Clock = utc_now,
        allow_private: Sequence[IPv4Network | IPv6Network] = (),
    ) -> None:
        self._store = store
        self._routes = routes
        self._clock = clock
        self._allow_private = tuple(allow_private)  # for send_once, as the engine's transport

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: Store,
        sign_olp: Callable[[bytes], str] | None,
        clock: Clock = utc_now,
        keyring: Keyring | None = None,
    ) -> ConnectorService:
        """The service over the attachment routes, their delivery defaults from `settings`.

        An attachment's `delivery` table overrides these per field; until connectors have
        settings of their own, they start from the `[webhooks]` ones.
        """
        webhooks = settings.webhooks
        defaults = DeliveryPolicy(
            timeout_s=webhooks.timeout.total_seconds(),
            max_attempts=webhooks.max_attempts,
            backoff_base_s=webhooks.backoff_base.total_seconds(),
            backoff_cap_s=webhooks.backoff_cap.total_seconds(),
        )
        routes = AttachmentRoutes(
            store=store, defaults=defaults, sign_olp=sign_olp, clock=clock, keyring=keyring
        )
        return cls(
            store=store, routes=routes, clock=clock, allow_private=webhooks.allow_private_targets
        )

    @property
    def routes(self) -> AttachmentRoutes:
        return self._routes

    async def start(
        self, attachments: Sequence[ConnectorAttachmentSettings]
    ) -> builtins.list[BuiltAttachment]:
        """Sync the settings file's attachments, then build every active one, or raise."""
        await self.sync([NewAttachment.from_settings(a) for a in attachments])
        return await self.build_active()

    async def sync(self, attachments: Sequence[NewAttachment]) -> None:
        """Write the settings file's attachments, each checked first; none if one is bad.

        A restart never lifts a disable by the operator or by a 410 Gone (`enable` does);
        it does lift its own (`active = false`, or a table removed and put back).
        """
        now = self._clock()
        records = [_queued(a.record(AttachmentSource.CONFIG, now)) for a in attachments]
        await self._check(records)
        wanted = {r.id for r in records}
        keyring = self._routes.keyring
        async with self._store.transaction() as tx:
            repo = tx.connector_attachments
            existing = {r.id: r for r in await repo.list()}
            for record in records:
                old = existing.get(record.id)
                stored, _ = await seal_record(keyring, record)
                if old is None:
                    # Not `add`: another instance starting at the same time may insert it too.
                    await repo.upsert(stored)
                    continue
                if old.source is not AttachmentSource.CONFIG:
                    log.warning(
                        "attachment %s, added with the CLI, is now the settings file's", record.id
                    )
                # Compared in clear: a sealed value never equals the literal it seals.
                if _differs(await open_record(keyring, old), record):
                    await repo.upsert(stored)
                if old.active and not record.active:
                    await repo.set_active(record.id, False, at=now, reason=SETTINGS_INACTIVE)
                elif record.active and not old.active and old.disabled_reason in _OURS:
                    await repo.set_active(record.id, True, at=now)
            for old in existing.values():
                gone = old.source is AttachmentSource.CONFIG and old.id not in wanted
                if gone and old.active:
                    await repo.set_active(old.id, False, at=now, reason=REMOVED_FROM_SETTINGS)

    async def build_active(self) -> builtins.list[BuiltAttachment]:
        """Build every active attachment (kept by the routes); one error naming every bad one."""
        async with self._store.transaction() as tx:
            records = [r for r in await tx.connector_attachments.list() if r.active]
        records = [await open_record(self._routes.keyring, r) for r in records]
        built: list[BuiltAttachment] = []
        errors: list[ConnectorConfigError] = []
        for record in records:
            try:
                built.append(self._routes.build(record))
            except ConnectorConfigError as err:
                errors.append(err)
        if errors:
            raise _combined(errors)
        for b in built:
            log.info(
                "connector attachment %s: %s for carrier %s",
                b.record.id,
                b.record.connector,
                b.record.carrier_id,
            )
        return built

    async def add(self, attachment: NewAttachment) -> BuiltAttachment:
        """Check and store an attachment from the CLI; checked exactly as at start-up."""
        record = _queued(attachment.record(AttachmentSource.CLI, self._clock()))
        if not record.active:
            raise ValidationFailed("an attachment is added active; disable it afterwards")
        built = (await self._check([record]))[0]
        stored, _ = await seal_record(self._routes.keyring, record)
        async with self._store.transaction() as tx:
            await tx.connector_attachments.add(stored)
        return built

    async def list(self) -> builtins.list[AttachmentSummary]:
        async with self._store.transaction() as tx:
            records = await tx.connector_attachments.list()
            counts = [await _counts(tx, r.id) for r in records]
        return [
            AttachmentSummary(record=r, capabilities=_capabilities(r.connector), pending=p, dead=d)
            for r, (p, d) in zip(records, counts, strict=True)
        ]

    async def get(self, attachment_id: str) -> ConnectorAttachmentRecord:
        """The row as stored: literal secrets sealed (`redacted` shows it to an operator)."""
        async with self._store.transaction() as tx:
            record = await tx.connector_attachments.get(attachment_id)
        if record is None:
            raise NotFound(f"no connector attachment {attachment_id!r}")
        return record

    async def build(self, attachment_id: str) -> BuiltAttachment:
        """The attachment built whether active or not (for `connectors test`)."""
        record = await open_record(self._routes.keyring, await self.get(attachment_id))
        return self._routes.build(record)

    async def disable(self, attachment_id: str, reason: str) -> ConnectorAttachmentRecord:
        if not reason.strip():
            raise ValidationFailed(
                "a reason is needed", issues=(FieldIssue("/reason", "must not be empty"),)
            )
        return await self._set_active(attachment_id, False, reason.strip())

    async def enable(self, attachment_id: str) -> ConnectorAttachmentRecord:
        """Active again, once it still builds (a secret may have gone in the meantime)."""
        await self.build(attachment_id)
        return await self._set_active(attachment_id, True, None)

    async def get_for_carrier(self, carrier_id: str, attachment_id: str) -> Connector:
        """The carrier's own active attachment's connector; NotFound for anyone else's."""
        built = await self._routes.attachment(attachment_id)
        if built is None or built.record.carrier_id != carrier_id:
            # The same answer for another carrier's: ids are not to be probed.
            raise NotFound(f"no connector attachment {attachment_id!r}")
        return built.connector

    # ---- `connectors test` ---------------------------------------------------------------

    def secret_values(self, built: BuiltAttachment) -> builtins.list[str]:
        """Every secret the attachment holds, resolved: to mask them wherever they show."""
        found = _secrets(built.connector.config)
        with contextlib.suppress(ConnectorConfigError):  # it built, so this does too
            found += _secrets(resolve_model_secrets(parse_auth_config(built.record.auth)))
        return found

    async def preview(
        self, built: BuiltAttachment, outbound: Outbound, *, event_id: str
    ) -> Preview:
        """`outbound` with the auth plugin's headers, computed offline (no token request)."""
        if not isinstance(outbound, HttpRequest):
            return Preview(outbound)
        context = AuthContext(
            event_id=event_id, attempt=1, unix_time=int(self._clock().timestamp())
        )
        async with httpx.AsyncClient(transport=httpx.MockTransport(_offline)) as client:
            try:
                return Preview(await built.auth.apply(outbound, context, client))
            except AuthFailed:
                return Preview(outbound, "credentials not shown: they need the token endpoint")

    async def send_once(
        self, built: BuiltAttachment, outbound: Outbound, *, event_id: str
    ) -> Outcome:
        """One attempt through the transport the engine would use; never retried."""
        transport: Transport
        async with contextlib.AsyncExitStack() as stack:
            if isinstance(outbound, HttpRequest):
                http = HttpTransport(max_connections=1, allow_private=self._allow_private)
                transport = await stack.enter_async_context(http)
            elif isinstance(outbound, MqttPublish):
                transport = await stack.enter_async_context(MqttTransport())
            elif isinstance(outbound, EmailMessage):
                transport = await stack.enter_async_context(SmtpTransport())
            return await transport.send(outbound, built.route(), event_id=event_id, attempt=1)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _set_active(
        self, attachment_id: str, active: bool, reason: str | None
    ) -> ConnectorAttachmentRecord:
        async with self._store.transaction() as tx:
            repo = tx.connector_attachments
            await repo.set_active(attachment_id, active, at=self._clock(), reason=reason)
            record = await repo.get(attachment_id)
        if record is None:
            raise NotFound(f"no connector attachment {attachment_id!r}")
        return record

    async def _check(
        self, records: Sequence[ConnectorAttachmentRecord]
    ) -> builtins.list[BuiltAttachment]:
        """Build each active record without storing it; one error for every bad one.

        An inactive one is built when it is enabled: it may wait for a secret on this host.
        """
        async with self._store.transaction() as tx:
            carriers = {c.id for c in await tx.carriers.list()}
            owners = {r.id: r.carrier_id for r in await tx.connector_attachments.list()}
        built: list[BuiltAttachment] = []
        errors: list[ConnectorConfigError] = []
        for record in records:
            problems: list[tuple[str, str]] = []
            if not ATTACHMENT_ID.match(record.id):
                problems.append(("id", "letters, digits, `_.-`, at most 64, not `_.-` first"))
            if record.carrier_id not in carriers:
                problems.append(("carrier", f"no carrier {record.carrier_id!r} is registered"))
            owner = owners.get(record.id, record.carrier_id)
            if owner != record.carrier_id:
                # Its queued rows hold the first carrier's parcels (recipients too): moved,
                # they would go to the new carrier's endpoint.
                problems.append(
                    (
                        "carrier",
                        f"the attachment belongs to carrier {owner!r}; give the new carrier's "
                        "attachment an id of its own",
                    )
                )
            try:
                if record.active:
                    built.append(self._routes.check(record))
            except AttachmentInvalid as err:
                problems += err.problems
            if problems:
                errors.append(AttachmentInvalid(record.id, problems))
        if errors:
            raise _combined(errors)
        return built


_OURS = frozenset({SETTINGS_INACTIVE, REMOVED_FROM_SETTINGS})
ATTACHMENT_ID = re.compile(ATTACHMENT_ID_PATTERN)


def _differs(old: ConnectorAttachmentRecord, new: ConnectorAttachmentRecord) -> bool:
    fields = ("carrier_id", "connector", "config", "auth", "delivery", "events", "source")
    return any(getattr(old, f) != getattr(new, f) for f in fields)


def _combined(errors: Sequence[ConnectorConfigError]) -> ConnectorConfigError:
    if len(errors) == 1:
        return errors[0]
    issues = tuple(i for e in errors for i in e.issues)
    return ConnectorConfigError("; ".join(e.description for e in errors), issues=issues)


def _offline(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("offline preview", request=request)


def _secrets(model: BaseModel) -> list[str]:
    found: list[str] = []
    for value in model.__dict__.values():
        items = value if isinstance(value, list | tuple) else [value]
        for item in items:
            if isinstance(item, SecretStr):
                found.append(item.get_secret_value())
            elif isinstance(item, BaseModel):
                found += _secrets(item)
    return found


def _queued(record: ConnectorAttachmentRecord) -> ConnectorAttachmentRecord:
    """The record with the event types its connector will really send as its `events` filter.

    The outbox filters on the stored `events` (in SQL, inside the transition's transaction),
    so an unset filter would queue every event for, say, a notifier that only ever sends
    three, or a pre-advice-only connector that sends none, each then settled `skipped`.
    """
    if record.events is not None:
        return record
    try:
        kind = load_connector_class(record.connector)
    except ConnectorConfigError:
        return record  # reported by the build, with the attachment's name
    if not kind.capabilities & {Capability.OUTBOUND_EVENTS, Capability.RECIPIENT_NOTIFICATIONS}:
        return replace(record, events=())
    field = kind.config_model.model_fields.get("events")
    default = None if field is None else field.get_default(call_default_factory=True)
    given = record.config.get("events", default)
    if not isinstance(given, list | tuple):
        return record  # None (every type) or a mistake the build will name
    return replace(record, events=tuple(str(e) for e in given))


def _capabilities(name: str) -> tuple[Capability, ...] | None:
    try:
        return tuple(sorted(load_connector_class(name).capabilities))
    except ConnectorConfigError:
        return None


async def _counts(tx: UnitOfWork, attachment_id: str) -> tuple[int, int]:
    found = []
    for state in (DeliveryState.PENDING, DeliveryState.DEAD):
        rows, _ = await tx.outbox.page(
            attachment_id, kind=TargetKind.CONNECTOR, state=state, limit=_COUNT_CAP
        )
        found.append(len(rows))
    return found[0], found[1]
