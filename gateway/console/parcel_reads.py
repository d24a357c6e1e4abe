"""What a parcel's console page shows besides the parcel and its history: the soft holds it
was announced with, the bundle it belongs to, and the deliveries of its events to the
carrier (webhooks and connectors).

Read on a plain connection (`store.engine.connect()`), as the rest of the console's read
model (reads.py): a page view takes no write lock on SQLite. Each read is one indexed lookup
and bounded (`MAX_DELIVERIES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.delivery import TargetKind
from gateway.store import Store
from gateway.store.tables import bundle_parcels, bundles, connector_attachments, holds, outbox
from gateway.store.tables import webhook_subscriptions as webhooks

# A parcel has a handful of events per target; a page never lists more rows than this.
MAX_DELIVERIES = 200


@dataclass(frozen=True, slots=True)
class HoldLine:
    """A soft hold the parcel was announced with (any state: converted, released, expired)."""

    hold_id: str
    size_class: str
    state: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class BundleLine:
    """The bundle the parcel belongs to, with its members' uids in booking order."""

    bundle_id: str
    reference: str | None
    created_at: datetime
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    """One parcel event for one of the carrier's targets, and how its delivery went."""

    id: int
    target_kind: str
    target_id: str
    parcel_seq: int
    type: str
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(slots=True)
class ParcelExtras:
    holds: list[HoldLine] = field(default_factory=list)
    bundle: BundleLine | None = None
    deliveries: list[DeliveryLine] = field(default_factory=list)
    more_deliveries: bool = False


class ParcelReads:
    def __init__(self, *, store: Store) -> None:
        self._store = store

    async def extras(self, uid: str, carrier_id: str) -> ParcelExtras:
        found = ParcelExtras()
        async with self._store.engine.connect() as conn:
            found.holds = await _holds(conn, uid)
            found.bundle = await _bundle(conn, uid)
            found.deliveries, found.more_deliveries = await _deliveries(conn, uid, carrier_id)
        return found


async def _holds(conn: AsyncConnection, uid: str) -> list[HoldLine]:
    h = holds.c
    rows = await conn.execute(
        select(h.hold_id, h.size_class, h.state, h.created_at, h.expires_at, h.ended_at)
        .where(h.parcel_uid == uid)  # ix_holds_parcel_uid
        .order_by(h.created_at)
        .limit(20)
    )
    return [
        HoldLine(hold_id, str(size), str(state), created, expires, ended)
        for hold_id, size, state, created, expires, ended in rows.all()
    ]


async def _bundle(conn: AsyncConnection, uid: str) -> BundleLine | None:
    m, b = bundle_parcels.c, bundles.c
    bundle_uid = (
        await conn.execute(select(m.bundle_uid).where(m.parcel_uid == uid))
    ).scalar_one_or_none()
    if bundle_uid is None:
        return None
    head = (
        await conn.execute(
            select(b.bundle_id, b.reference, b.created_at).where(b.uid == bundle_uid)
        )
    ).first()
    if head is None:
        return None
    members = await conn.execute(
        select(m.parcel_uid).where(m.bundle_uid == bundle_uid).order_by(m.position)
    )
    return BundleLine(head[0], head[1], head[2], tuple(u for (u,) in members.all()))


async def _deliveries(
    conn: AsyncConnection, uid: str, carrier_id: str
) -> tuple[list[DeliveryLine], bool]:
    """The outbox rows of the parcel. The outbox's index leads with the target, not the parcel:
    the carrier's targets (active or not: a row outlives its target) are read first so the
    lookup uses (target_kind, target_id, parcel_uid) instead of reading the whole outbox."""
    targets: set[tuple[str, str]] = set()
    for kind, table in (
        (TargetKind.WEBHOOK, webhooks),
        (TargetKind.CONNECTOR, connector_attachments),
    ):
        ids = await conn.execute(select(table.c.id).where(table.c.carrier_id == carrier_id))
        targets |= {(kind.value, target_id) for (target_id,) in ids.all()}
    if not targets:
        return [], False
    o = outbox.c
    rows = await conn.execute(
        select(
            o.id,
            o.target_kind,
            o.target_id,
            o.parcel_seq,
            o.type,
            o.state,
            o.attempts,
            o.last_status,
            o.last_error,
            o.created_at,
            o.delivered_at,
        )
        .where(
            o.target_kind.in_(sorted({k for k, _ in targets})),
            o.target_id.in_(sorted({t for _, t in targets})),
            o.parcel_uid == uid,
        )
        .order_by(o.parcel_seq, o.id)
        .limit(MAX_DELIVERIES + 1)
    )
    found = [
        DeliveryLine(
            id=row.id,
            target_kind=str(row.target_kind),
            target_id=row.target_id,
            parcel_seq=row.parcel_seq,
            type=row.type,
            state=str(row.state),
            attempts=row.attempts,
            last_status=row.last_status,
            last_error=row.last_error,
            created_at=row.created_at,
            delivered_at=row.delivered_at,
        )
        for row in rows.all()
        if (str(row.target_kind), row.target_id) in targets
    ]
    return found[:MAX_DELIVERIES], len(found) > MAX_DELIVERIES
