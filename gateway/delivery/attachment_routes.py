"""Routes for connector attachments: the row built into a connector, an auth plugin, a policy.

`build_attachment` is the one place an attachment is checked: the gateway runs it for every
active attachment at start-up (and the CLI before it stores one), so a bad config, an unknown
connector, a mapping that does not compile or an unresolvable secret stops the process with
the attachment id and the field named, instead of failing the first delivery. Problems never
quote a value: a secret typed into the wrong key must not reach a log.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.clock import Clock, utc_now
from gateway.delivery.attachment_secrets import open_record
from gateway.delivery.auth import (
    AuthConfigError,
    AuthPlugin,
    build_auth_plugin,
    parse_auth_config,
    resolve_model_secrets,
)
from gateway.delivery.routes import DeliveryPolicy, Route, TargetKind
from gateway.errors import FieldIssue, OpenLockerError
from gateway.sdk.connectors import (
    OLP_EVENT_TYPES,
    Connector,
    ConnectorConfigError,
    load_connector_class,
)
from gateway.store import ConnectorAttachmentRecord, Store, UnitOfWork
from gateway.tokens.sealing import Keyring, SealError, ephemeral_keyring

__all__ = [
    "AttachmentInvalid",
    "AttachmentRoutes",
    "BuiltAttachment",
    "DeliveryOptions",
    "build_attachment",
]

log = logging.getLogger(__name__)

_MAX_KNOWN = 10_000  # remembered rows before the expired ones are dropped


class DeliveryOptions(BaseModel):
    """An attachment's `delivery` table: what differs from the gateway-wide delivery policy."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float | None = Field(default=None, gt=0, le=120)
    max_attempts: int | None = Field(default=None, ge=1, le=100)
    backoff_base_s: float | None = Field(default=None, gt=0)
    backoff_cap_s: float | None = Field(default=None, gt=0)
    rate_per_s: float | None = Field(default=None, gt=0, description="Sends per second.")
    rate_burst: int | None = Field(default=None, ge=1)
    breaker_failures: int | None = Field(default=None, ge=1)
    breaker_reset_s: float | None = Field(default=None, gt=0)

    def over(self, defaults: DeliveryPolicy) -> DeliveryPolicy:
        given = {k: v for k, v in self.model_dump().items() if v is not None}
        policy = dataclasses.replace(defaults, **given)
        if policy.backoff_cap_s < policy.backoff_base_s:
            raise ValueError("backoff_cap_s is shorter than backoff_base_s")
        return policy


@dataclass(frozen=True, slots=True)
class BuiltAttachment:
    """An attachment ready to send: its row and what was built from it."""

    record: ConnectorAttachmentRecord
    connector: Connector
    auth: AuthPlugin
    policy: DeliveryPolicy

    def route(self) -> Route:
        return Route(
            kind=TargetKind.CONNECTOR,
            target_id=self.record.id,
            carrier_id=self.record.carrier_id,
            connector=self.connector,
            auth=self.auth,
            policy=self.policy,
        )


def build_attachment(
    record: ConnectorAttachmentRecord,
    *,
    defaults: DeliveryPolicy,
    sign_olp: Callable[[bytes], str] | None = None,
    clock: Clock = utc_now,
) -> BuiltAttachment:
    """Everything the record says, built; AttachmentInvalid listing every problem."""
    problems: list[tuple[str, str]] = []
    connector = _connector(record, problems)
    auth: AuthPlugin | None = None
    try:
        auth_config = parse_auth_config(record.auth, field="auth")
        auth = build_auth_plugin(auth_config, sign_olp=sign_olp, clock=clock, field="auth")
    except OpenLockerError as err:
        problems += _named(err, "")
    policy = defaults
    try:
        policy = DeliveryOptions.model_validate(record.delivery or {}).over(defaults)
    except ValidationError as err:
        problems += _pydantic(err, "delivery")
    except ValueError as err:
        problems.append(("delivery", str(err)))
    if problems or connector is None or auth is None:
        raise AttachmentInvalid(record.id, problems)
    return BuiltAttachment(record=record, connector=connector, auth=auth, policy=policy)


class AttachmentInvalid(ConnectorConfigError):
    """One attachment's problems, each `connectors[<id>].<field>: <problem>` in the text."""

    def __init__(self, attachment_id: str, problems: Sequence[tuple[str, str]]) -> None:
        where = f"connectors[{attachment_id}]"
        lines = [
            f"{where}.{field}: {detail}" if field else f"{where}: {detail}"
            for field, detail in problems
        ]
        issues = tuple(FieldIssue(_pointer(attachment_id, f), d) for f, d in problems)
        super().__init__("; ".join(lines) or f"{where}: invalid", issues=issues)
        self.attachment_id = attachment_id
        self.problems = tuple(problems)


def _connector(
    record: ConnectorAttachmentRecord, problems: list[tuple[str, str]]
) -> Connector | None:
    try:
        kind = load_connector_class(record.connector)
    except ConnectorConfigError as err:
        problems.append(("connector", err.description))
        return None
    declared = getattr(kind, "name", None)
    if declared != record.connector:
        # The name is what logs, the CLI and the kit call it; a mismatch is a packaging bug.
        problems.append(("connector", f"the entry point names a connector called {declared!r}"))
        return None
    for index, event_type in enumerate(record.events or ()):
        if event_type not in OLP_EVENT_TYPES:
            problems.append((f"events[{index}]", f"unknown event type {event_type!r}"))
    data: dict[str, Any] = dict(record.config)
    if record.events is not None:
        # The attachment's filter is the connector's too, so `wants()` agrees with the outbox.
        given = data.get("events")
        if given is not None and sorted(given) != sorted(record.events):
            problems.append(("config.events", "differs from the attachment's events; give one"))
        data["events"] = list(record.events)
    try:
        config = kind.config_model.model_validate(data)
        config = resolve_model_secrets(config, prefix="config.")
        return kind(config=config)
    except ValidationError as err:
        problems += _pydantic(err, "config")
    except AuthConfigError as err:  # a secret reference; its field is already `config.x`
        problems += _named(err, "")
    except ConnectorConfigError as err:  # from the connector: pointers into its config
        problems += _named(err, "config")
    except Exception as err:  # a connector bug; its text might quote a secret, so not shown
        problems.append(
            (
                "config",
                f"the connector failed to build ({type(err).__name__}); "
                "connectors must raise ConnectorConfigError",
            )
        )
    return None


def _pydantic(err: ValidationError, base: str) -> list[tuple[str, str]]:
    found = []
    for error in err.errors(include_input=False, include_url=False):
        field = base + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
        )
        detail = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        found.append((field, str(detail).removeprefix("Value error, ")))
    return found


def _named(err: OpenLockerError, base: str) -> list[tuple[str, str]]:
    """An SDK error's issues as (dotted field, detail); its pointers are relative to `base`."""
    if not err.issues:
        return [(base, err.description)]
    found = []
    for issue in err.issues:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in issue.pointer.split("/")[1:]]
        dotted = ".".join(p for p in [base, *parts] if p)
        found.append((dotted, issue.detail))
    return found


def _pointer(attachment_id: str, field: str) -> str:
    parts = ["connectors", attachment_id, *field.replace("[", ".").replace("]", "").split(".")]
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts if p)


class AttachmentRoutes:
    """The RouteBook of `TargetKind.CONNECTOR`, over the `connector_attachments` table.

    The engine refreshes the attachments of each claimed batch in the claim's transaction,
    so a disable (here, on another instance or through the CLI) stops every row claimed after
    it committed, without a database read per attempt; a lookup that no claim refreshed in
    the last `ttl_s` reads the row, as `attachment` (inbound requests) always does. What was
    built from a row is kept until the row's `updated_at` changes. Rows are read with their
    secrets sealed and opened here (`keyring`), only when what was built is out of date.
    """

    def __init__(
        self,
        *,
        store: Store,
        defaults: DeliveryPolicy,
        sign_olp: Callable[[bytes], str] | None = None,
        clock: Clock = utc_now,
        ttl_s: float = 2.0,
        keyring: Keyring | None = None,
    ) -> None:
        self._store = store
        self._keyring = keyring or ephemeral_keyring()
        self._defaults = defaults
        self._sign_olp = sign_olp
        self._clock = clock
        self._ttl_s = ttl_s
        self._built: dict[str, tuple[datetime, BuiltAttachment]] = {}
        # id -> (when read, event-loop time; the row as read, None if there was none)
        self._known: dict[str, tuple[float, ConnectorAttachmentRecord | None]] = {}

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def check(self, record: ConnectorAttachmentRecord) -> BuiltAttachment:
        """Build `record` (AttachmentInvalid if it cannot be) without keeping it: a record
        that is checked but then not stored (a refused add) must never become a route."""
        return build_attachment(
            record,
            defaults=self._defaults,
            sign_olp=self._sign_olp,
            clock=self._clock,
        )

    def build(self, record: ConnectorAttachmentRecord) -> BuiltAttachment:
        """Build a stored `record` (AttachmentInvalid if it cannot be) and keep it."""
        built = self.check(record)
        self._built[record.id] = (record.updated_at, built)
        return built

    async def attachment(self, attachment_id: str) -> BuiltAttachment | None:
        """The active attachment, built; None when it is gone, disabled or no longer builds."""
        async with self._store.transaction() as tx:
            record = await tx.connector_attachments.get(attachment_id)
        return self._built_for(attachment_id, await self._opened(record))

    async def route(self, kind: TargetKind, target_id: str) -> Route | None:
        if kind is not TargetKind.CONNECTOR:
            return None
        known = self._known.get(target_id)
        if known is not None and known[0] + self._ttl_s > asyncio.get_running_loop().time():
            built = self._built_for(target_id, known[1])
        else:
            built = await self.attachment(target_id)
        return None if built is None else built.route()

    async def refresh(self, tx: UnitOfWork, targets: Collection[tuple[TargetKind, str]]) -> None:
        for kind, target_id in targets:
            if kind is TargetKind.CONNECTOR:
                record = await tx.connector_attachments.get(target_id)
                self._keep(target_id, await self._opened(record))

    async def _opened(
        self, record: ConnectorAttachmentRecord | None
    ) -> ConnectorAttachmentRecord | None:
        """The row with its secrets opened; what was built from it when that is up to date
        (no KEK call per claim). None when a secret does not open: custody checks every one
        at start-up, so this is a KEK removed since, and the attachment cannot send."""
        if record is None or not record.active:
            return record
        kept = self._built.get(record.id)
        if kept is not None and kept[0] == record.updated_at:
            return kept[1].record
        try:
            return await open_record(self._keyring, record)
        except SealError as err:
            log.error("connector attachment %s cannot be opened: %s", record.id, err)
            return None

    def disabled(self, kind: TargetKind, target_id: str) -> None:
        if kind is TargetKind.CONNECTOR:
            self._keep(target_id, None)

    def _keep(self, attachment_id: str, record: ConnectorAttachmentRecord | None) -> None:
        now = asyncio.get_running_loop().time()
        if len(self._known) >= _MAX_KNOWN:
            self._known = {k: v for k, v in self._known.items() if v[0] + self._ttl_s > now}
        self._known[attachment_id] = (now, record)

    def _built_for(
        self, attachment_id: str, record: ConnectorAttachmentRecord | None
    ) -> BuiltAttachment | None:
        if record is None or not record.active:
            self._built.pop(attachment_id, None)
            return None
        kept = self._built.get(attachment_id)
        if kept is not None and kept[0] == record.updated_at:
            return kept[1]
        try:
            return self.build(record)
        except ConnectorConfigError as err:
            # Checked at start-up and by the CLI, so this is a secret file gone or the like.
            log.error("connector attachment %s cannot be built: %s", attachment_id, err.description)
            self._built.pop(attachment_id, None)
            return None
