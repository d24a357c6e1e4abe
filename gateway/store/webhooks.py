"""Carriers' webhook subscriptions: where to POST which parcel events."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, bindparam, func, null, select, update

from gateway.errors import AlreadyExists
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.carrier_targets import ChangesTargets
from gateway.store.tables import carriers
from gateway.store.tables import webhook_subscriptions as t

# Built once: every parcel transition reads its carrier's active subscriptions.
_ACTIVE = (
    select(t)
    .where(t.c.carrier_id == bindparam("carrier_id"), t.c.active.is_(True))
    .order_by(t.c.created_at, t.c.id)
)


@dataclass(frozen=True, slots=True)
class WebhookSubscriptionRecord:
    """A subscription; `events` None means every event type, present and future."""

    id: str
    carrier_id: str
    url: str
    events: tuple[str, ...] | None
    description: str | None
    active: bool
    created_at: datetime
    deactivated_at: datetime | None = None

    def wants(self, event_type: str) -> bool:
        return self.active and (self.events is None or event_type in self.events)


class WebhookRepository(ChangesTargets, Repository):
    async def add(self, sub: WebhookSubscriptionRecord) -> None:
        self._changing_targets()
        values = {
            "id": sub.id,
            "carrier_id": sub.carrier_id,
            "url": sub.url,
            # SQL NULL, not the JSON text "null": "no filter" must be unambiguous in SQL too.
            "events": null() if sub.events is None else list(sub.events),
            "description": sub.description,
            "active": sub.active,
            "created_at": sub.created_at,
            "deactivated_at": sub.deactivated_at,
        }
        if not await insert_if_absent(self._conn, t, values):
            raise AlreadyExists(f"webhook subscription {sub.id} exists already")

    async def get(self, carrier_id: str, subscription_id: str) -> WebhookSubscriptionRecord | None:
        """The carrier's subscription, active or not; another carrier's is None."""
        stmt = select(t).where(t.c.id == subscription_id, t.c.carrier_id == carrier_id)
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _record(row)

    async def find(self, subscription_id: str) -> WebhookSubscriptionRecord | None:
        """Any carrier's subscription by id alone: for the delivery engine, never for a carrier."""
        stmt = select(t).where(t.c.id == subscription_id)
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _record(row)

    async def list_active(self, carrier_id: str) -> builtins.list[WebhookSubscriptionRecord]:
        """The carrier's active subscriptions in the order they were created."""
        rows = (await self._conn.execute(_ACTIVE, {"carrier_id": carrier_id})).mappings()
        return [_record(row) for row in rows]

    async def count_active(self, carrier_id: str, *, lock: bool = False) -> int:
        """How many active subscriptions the carrier has.

        `lock` row-locks the carrier first (PostgreSQL), so that two concurrent creations
        cannot both see room under the limit; SQLite transactions are serialised anyway.
        """
        if lock and self._postgres:
            await self._conn.execute(
                select(carriers.c.id).where(carriers.c.id == carrier_id).with_for_update()
            )
        stmt = select(func.count()).where(t.c.carrier_id == carrier_id, t.c.active.is_(True))
        return int((await self._conn.execute(stmt)).scalar_one())

    async def deactivate(self, carrier_id: str, subscription_id: str, at: datetime) -> bool:
        """Stop the subscription for good; False if it was not active (or not the carrier's)."""
        self._changing_targets()
        stmt = (
            update(t)
            .where(t.c.id == subscription_id, t.c.carrier_id == carrier_id, t.c.active.is_(True))
            .values(active=False, deactivated_at=at)
        )
        return (await self._conn.execute(stmt)).rowcount == 1


def _record(row: RowMapping) -> WebhookSubscriptionRecord:
    events = row["events"]
    return WebhookSubscriptionRecord(
        id=row["id"],
        carrier_id=row["carrier_id"],
        url=row["url"],
        events=None if events is None else tuple(events),
        description=row["description"],
        active=bool(row["active"]),
        created_at=row["created_at"],
        deactivated_at=row["deactivated_at"],
    )
