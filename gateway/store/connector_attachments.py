"""Connector attachments: which connector speaks to which carrier, with what config and auth."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, bindparam, delete, null, select, update

from gateway.domain.delivery import AttachmentSource
from gateway.errors import AlreadyExists
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.carrier_targets import ChangesTargets
from gateway.store.tables import connector_attachments as t

# Built once: every parcel transition reads its carrier's active attachments.
_ACTIVE_FOR = (
    select(t)
    .where(t.c.carrier_id == bindparam("carrier_id"), t.c.active.is_(True))
    .order_by(t.c.id)
)


@dataclass(frozen=True, slots=True)
class ConnectorAttachmentRecord:
    """One attachment, as stored.

    `config`, `auth` and `delivery` are the operator's JSON as given, except that a literal
    secret is stored sealed, `sealed:<kek-id>:<ciphertext>` (gateway/delivery/
    attachment_secrets.py seals and opens; `env:NAME` / `file:/path` references are resolved
    when the route is built, never here). `events` None means every event type; it is what
    decides which events are queued for the attachment at all. `disabled_reason` says why an
    inactive attachment stopped (the operator, or the endpoint answering 410 Gone).
    """

    id: str
    carrier_id: str
    connector: str
    # Not in a repr: both may hold literal secrets (a password, an API key).
    config: dict[str, Any] = field(repr=False)
    source: AttachmentSource
    created_at: datetime
    updated_at: datetime
    auth: dict[str, Any] | None = field(default=None, repr=False)
    delivery: dict[str, Any] | None = None
    events: tuple[str, ...] | None = None
    active: bool = True
    disabled_reason: str | None = None

    def wants(self, event_type: str) -> bool:
        return self.active and (self.events is None or event_type in self.events)


class ConnectorAttachmentRepository(ChangesTargets, Repository):
    async def add(self, record: ConnectorAttachmentRecord) -> None:
        """Store a new attachment; AlreadyExists if the id is taken."""
        self._changing_targets()
        if not await insert_if_absent(self._conn, t, _values(record)):
            raise AlreadyExists(
                f"connector attachment {record.id!r} exists already", details={"id": record.id}
            )

    async def upsert(self, record: ConnectorAttachmentRecord) -> bool:
        """Insert, or update everything the record says; True if it was inserted.

        An existing row keeps its `created_at`, `active` and `disabled_reason`: a restart with
        the same settings file never re-enables an attachment that was disabled (by the
        operator, or by a 410 Gone); `set_active` does that.
        """
        self._changing_targets()
        if await insert_if_absent(self._conn, t, _values(record)):
            return True
        values = _values(record)
        for kept in ("id", "created_at", "active", "disabled_reason"):
            values.pop(kept)
        await self._conn.execute(update(t).where(t.c.id == record.id).values(values))
        return False

    async def get(self, attachment_id: str) -> ConnectorAttachmentRecord | None:
        """The attachment, active or not."""
        stmt = select(t).where(t.c.id == attachment_id)
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _record(row)

    async def list(self, carrier_id: str | None = None) -> builtins.list[ConnectorAttachmentRecord]:
        """Every attachment (of one carrier, if given), active or not, by carrier then id."""
        stmt = select(t).order_by(t.c.carrier_id, t.c.id)
        if carrier_id is not None:
            stmt = stmt.where(t.c.carrier_id == carrier_id)
        return [_record(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def list_active_for(self, carrier_id: str) -> builtins.list[ConnectorAttachmentRecord]:
        """The carrier's active attachments, by id: what a parcel event is queued for."""
        rows = (await self._conn.execute(_ACTIVE_FOR, {"carrier_id": carrier_id})).mappings()
        return [_record(row) for row in rows]

    async def set_active(
        self, attachment_id: str, active: bool, *, at: datetime, reason: str | None = None
    ) -> bool:
        """Enable, or disable with a reason; False if there is no such attachment or it
        already was in that state (so the caller knows whether it changed anything)."""
        if not active and not reason:
            raise ValueError("disabling an attachment needs a reason")
        self._changing_targets()
        stmt = (
            update(t)
            .where(t.c.id == attachment_id, t.c.active.is_(not active))
            .values(active=active, disabled_reason=None if active else reason, updated_at=at)
        )
        return (await self._conn.execute(stmt)).rowcount == 1

    async def reseal(
        self, attachment_id: str, config: dict[str, Any], auth: dict[str, Any] | None
    ) -> None:
        """Store the same config and auth with secrets sealed anew (custody). `updated_at`
        stays: the values are the same, so no instance needs to build the attachment again."""
        self._changing_targets()
        values = {"config": config, "auth": null() if auth is None else auth}
        await self._conn.execute(update(t).where(t.c.id == attachment_id).values(values))

    async def remove(self, attachment_id: str) -> bool:
        """Delete the attachment for good; False if there was none. Its outbox rows stay."""
        self._changing_targets()
        stmt = delete(t).where(t.c.id == attachment_id)
        return (await self._conn.execute(stmt)).rowcount == 1


def _values(record: ConnectorAttachmentRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "carrier_id": record.carrier_id,
        "connector": record.connector,
        "config": record.config,
        # SQL NULL, not the JSON text "null": "absent" must be unambiguous in SQL too.
        "auth": null() if record.auth is None else record.auth,
        "delivery": null() if record.delivery is None else record.delivery,
        "events": null() if record.events is None else builtins.list(record.events),
        "active": record.active,
        "disabled_reason": record.disabled_reason,
        "source": record.source,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _record(row: RowMapping) -> ConnectorAttachmentRecord:
    events = row["events"]
    return ConnectorAttachmentRecord(
        id=row["id"],
        carrier_id=row["carrier_id"],
        connector=row["connector"],
        config=row["config"],
        auth=row["auth"],
        delivery=row["delivery"],
        events=None if events is None else tuple(events),
        active=bool(row["active"]),
        disabled_reason=row["disabled_reason"],
        source=row["source"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
