"""Parcels: optimistic updates, cursor paging, and the timers the sweeper acts on."""

from __future__ import annotations

import builtins
import functools
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import RowMapping, Select, Update, bindparam, or_, select, update

from gateway.domain.enums import ParcelState
from gateway.domain.hold_policy import AppliedHold
from gateway.domain.parcel import Parcel
from gateway.domain.recipients import Recipient
from gateway.domain.requirements import DeliveryRequirements
from gateway.domain.self_service import RecipientRequests
from gateway.domain.sizes import SizeRequirement
from gateway.errors import AlreadyExists, ConcurrentUpdate
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.dimensions import dimension_columns, dimensions_of
from gateway.store.tables import parcels as t

# Columns fixed at insert; update() refuses to change them.
_IDENTITY = ("uid", "carrier_id", "parcel_id", "direction", "created_at", "requirements")

# The hot statements, built once with bound parameters: a statement object keeps its
# compiled-cache key, so reusing it skips the construction and key generation SQLAlchemy
# repeats for a freshly built one (a third of a simple statement's CPU on SQLite).
_BY_ID = select(t).where(
    t.c.carrier_id == bindparam("carrier_id"), t.c.parcel_id == bindparam("parcel_id")
)
_BY_ID_FOR_UPDATE = _BY_ID.with_for_update()
_BY_UID = select(t).where(t.c.uid == bindparam("uid"))
_BY_UID_FOR_UPDATE = _BY_UID.with_for_update()


class ParcelRepository(Repository):
    async def insert(self, parcel: Parcel) -> Parcel:
        """Store a new parcel and return it (AlreadyExists if its carrier used the id before)."""
        if not await insert_if_absent(self._conn, t, _row(parcel)):
            raise AlreadyExists(
                f"parcel {parcel.parcel_id} of carrier {parcel.carrier_id} exists already",
                details={"carrierId": parcel.carrier_id, "parcelId": parcel.parcel_id},
            )
        return parcel

    async def get(
        self, carrier_id: str, parcel_id: str, *, for_update: bool = False
    ) -> Parcel | None:
        """`for_update` row-locks on PostgreSQL; SQLite transactions are serialised anyway."""
        params = {"carrier_id": carrier_id, "parcel_id": parcel_id}
        return await self._one(_BY_ID_FOR_UPDATE if for_update else _BY_ID, params)

    async def get_by_uid(self, uid: str, *, for_update: bool = False) -> Parcel | None:
        return await self._one(_BY_UID_FOR_UPDATE if for_update else _BY_UID, {"uid": uid})

    async def update(self, before: Parcel, after: Parcel) -> Parcel:
        """Write `after` unless the row changed since `before`; returns it with the new version."""
        old, new = _row(before), _row(after)
        if any(old[name] != new[name] for name in _IDENTITY):
            raise ValueError(f"update cannot change a parcel's {', '.join(_IDENTITY)}")
        for name in _IDENTITY:
            del new[name]
        new["version"] = before.version + 1
        params = new | {"before_uid": before.uid, "before_version": before.version}
        if (await self._conn.execute(_update_statement(tuple(new)), params)).rowcount != 1:
            raise ConcurrentUpdate(
                f"parcel {before.parcel_id} changed meanwhile (version {before.version})",
                details={"carrierId": before.carrier_id, "parcelId": before.parcel_id},
            )
        return replace(after, version=before.version + 1)

    async def list(
        self,
        carrier_id: str,
        *,
        state: ParcelState | None = None,
        locker_id: str | None = None,
        after_seq: int | None = None,
        limit: int = 50,
    ) -> tuple[builtins.list[Parcel], int | None]:
        """One page of a carrier's parcels in creation order, and the cursor of the next page."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        stmt = select(t).where(t.c.carrier_id == carrier_id)
        if state is not None:
            stmt = stmt.where(t.c.state == state)
        if locker_id is not None:
            stmt = stmt.where(t.c.locker_id == locker_id)
        if after_seq is not None:
            stmt = stmt.where(t.c.seq > after_seq)
        # One row more than asked tells whether a next page exists without a COUNT.
        rows = (await self._conn.execute(stmt.order_by(t.c.seq).limit(limit + 1))).mappings()
        page = builtins.list(rows)
        more = len(page) > limit
        page = page[:limit]
        return [_parcel(row) for row in page], (page[-1]["seq"] if more else None)

    async def search(
        self,
        *,
        carrier_id: str | None = None,
        states: Collection[ParcelState] | None = None,
        locker_id: str | None = None,
        pickup_before: datetime | None = None,
        identifier: str | None = None,
        after_seq: int | None = None,
        limit: int = 50,
    ) -> tuple[builtins.list[Parcel], int | None]:
        """`list` across carriers for operators (gateway/service/admin_views.py), with the
        filters a network's operations team asks for: several states, pickup window ending,
        and `identifier`: what someone at a counter reads out, matched exactly against the
        gateway's uid, the carrier's parcel id or the carrier's reference (each indexed, the
        reference by migration 0022: the OR is one index read per term on both engines)."""
        stmt = select(t)
        if identifier is not None:
            stmt = stmt.where(
                or_(t.c.uid == identifier, t.c.parcel_id == identifier, t.c.reference == identifier)
            )
        if carrier_id is not None:
            stmt = stmt.where(t.c.carrier_id == carrier_id)
        if states is not None:
            stmt = stmt.where(t.c.state.in_(builtins.list(states)))
        if locker_id is not None:
            stmt = stmt.where(t.c.locker_id == locker_id)
        if pickup_before is not None:
            stmt = stmt.where(t.c.pickup_until < pickup_before)
        if after_seq is not None:
            stmt = stmt.where(t.c.seq > after_seq)
        rows = (await self._conn.execute(stmt.order_by(t.c.seq).limit(limit + 1))).mappings()
        page = builtins.list(rows)
        more = len(page) > limit
        page = page[:limit]
        return [_parcel(row) for row in page], (page[-1]["seq"] if more else None)

    async def due_reservations(
        self, now: datetime, limit: int, *, for_update: bool = False
    ) -> builtins.list[Parcel]:
        """Reserved (or drop-off announced) parcels whose reservation ran out, oldest first.

        `for_update` on PostgreSQL locks them and skips those another sweeper holds, so N
        gateway instances split the work instead of colliding.
        """
        states = (ParcelState.RESERVED, ParcelState.DROPOFF_ANNOUNCED)
        stmt = (
            select(t)
            .where(t.c.state.in_(states), t.c.reserved_until <= now)
            .order_by(t.c.reserved_until, t.c.seq)
        )
        return await self._due(stmt, limit, for_update)

    async def due_pickups(
        self, now: datetime, limit: int, *, for_update: bool = False
    ) -> builtins.list[Parcel]:
        """Parcels ready for pickup whose pickup window ended, oldest first."""
        stmt = (
            select(t)
            .where(t.c.state == ParcelState.READY_FOR_PICKUP, t.c.pickup_until <= now)
            .order_by(t.c.pickup_until, t.c.seq)
        )
        return await self._due(stmt, limit, for_update)

    async def due_reminders(
        self, now: datetime, lead: timedelta, limit: int
    ) -> builtins.list[Parcel]:
        """Parcels booked before hold-time policies (migration 0016) that are ready for
        pickup, whose window ends within `lead` and that have had no reminder for their
        current deadline; windows no longer than `lead` get none."""
        stmt = (
            select(t)
            .where(
                t.c.hold_policy.is_(None),
                t.c.state == ParcelState.READY_FOR_PICKUP,
                t.c.pickup_until > now,
                t.c.pickup_until <= now + lead,
                t.c.pickup_window_s > _seconds(lead),
                (t.c.reminded_for.is_(None)) | (t.c.reminded_for != t.c.pickup_until),
            )
            .order_by(t.c.pickup_until, t.c.seq)
        )
        return await self._due(stmt, limit, False)

    async def due_policy_reminders(self, now: datetime, limit: int) -> builtins.list[Parcel]:
        """Parcels ready for pickup whose hold policy's next reminder time has come."""
        stmt = (
            select(t)
            .where(
                t.c.state == ParcelState.READY_FOR_PICKUP,
                t.c.next_reminder_at <= now,
                t.c.pickup_until > now,
            )
            .order_by(t.c.next_reminder_at, t.c.seq)
        )
        return await self._due(stmt, limit, False)

    async def claim_policy_reminder(
        self, uid: str, due_at: datetime, pickup_until: datetime, following: datetime | None
    ) -> bool:
        """Take the reminder due at `due_at` and arm the `following` one; False when another
        instance took it, or the parcel moved on (a new deadline re-arms its own)."""
        stmt = (
            update(t)
            .where(
                t.c.uid == uid,
                t.c.state == ParcelState.READY_FOR_PICKUP,
                t.c.pickup_until == pickup_until,
                t.c.next_reminder_at == due_at,
            )
            .values(next_reminder_at=following, reminded_for=pickup_until)
        )
        return bool((await self._conn.execute(stmt)).rowcount == 1)

    async def claim_reminder(self, uid: str, pickup_until: datetime) -> bool:
        """Mark the reminder for this deadline as queued; False when another instance did,
        or the parcel moved on. Leaves `version` alone: it is no change of the parcel."""
        stmt = (
            update(t)
            .where(
                t.c.uid == uid,
                t.c.state == ParcelState.READY_FOR_PICKUP,
                t.c.pickup_until == pickup_until,
                (t.c.reminded_for.is_(None)) | (t.c.reminded_for != pickup_until),
            )
            .values(reminded_for=pickup_until)
        )
        return bool((await self._conn.execute(stmt)).rowcount == 1)

    async def _due(self, stmt: Select[Any], limit: int, for_update: bool) -> builtins.list[Parcel]:
        stmt = stmt.limit(limit)
        if for_update:
            stmt = stmt.with_for_update(skip_locked=True)
        return [_parcel(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def _one(self, stmt: Select[Any], params: dict[str, Any] | None = None) -> Parcel | None:
        row = (await self._conn.execute(stmt, params)).mappings().first()
        return None if row is None else _parcel(row)


@functools.cache
def _update_statement(columns: tuple[str, ...]) -> Update:
    """The optimistic UPDATE of these columns (the ones `_row` writes), built once."""
    return (
        update(t)
        .where(t.c.uid == bindparam("before_uid"), t.c.version == bindparam("before_version"))
        .values({name: bindparam(name) for name in columns})
    )


def _seconds(delta: timedelta) -> int:
    if delta % timedelta(seconds=1):
        raise ValueError(f"{delta} is not a whole number of seconds")
    return delta // timedelta(seconds=1)


def _row(p: Parcel) -> dict[str, Any]:
    dims = p.need.dimensions
    return {
        "uid": p.uid,
        "carrier_id": p.carrier_id,
        "parcel_id": p.parcel_id,
        "direction": p.direction,
        "state": p.state,
        "locker_id": p.locker_id,
        "compartment_code": p.compartment_code,
        "size_class": p.need.size_class,
        **dimension_columns(dims),
        "weight_g": p.need.weight_g,
        "reference": p.reference,
        "reserved_until": p.reserved_until,
        "pickup_until": p.pickup_until,
        "pickup_window_s": _seconds(p.pickup_window),
        "reservation_ttl_s": _seconds(p.reservation_ttl),
        "redirected_from": p.redirected_from,
        "redirected_to": p.redirected_to,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "version": p.version,
        "last_seq": p.last_seq,
        "recipient": p.recipient.to_json() if p.recipient else None,
        "requirements": p.need.requirements.to_json(),
        "hold_policy": p.hold.to_json() if p.hold else None,
        "next_reminder_at": p.next_reminder_at,
        "recipient_requests": p.recipient_requests.to_json(),
    }


def _parcel(row: RowMapping) -> Parcel:
    dims = dimensions_of(row)
    need = SizeRequirement(
        row["size_class"],
        dims,
        row["weight_g"],
        DeliveryRequirements.from_json(row["requirements"]),
    )
    return Parcel(
        uid=row["uid"],
        carrier_id=row["carrier_id"],
        parcel_id=row["parcel_id"],
        direction=row["direction"],
        state=row["state"],
        locker_id=row["locker_id"],
        need=need,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        compartment_code=row["compartment_code"],
        reference=row["reference"],
        reserved_until=row["reserved_until"],
        pickup_until=row["pickup_until"],
        pickup_window=timedelta(seconds=row["pickup_window_s"]),
        reservation_ttl=timedelta(seconds=row["reservation_ttl_s"]),
        redirected_from=row["redirected_from"],
        redirected_to=row["redirected_to"],
        version=row["version"],
        last_seq=row["last_seq"],
        recipient=Recipient.from_json(row["recipient"]) if row["recipient"] else None,
        hold=AppliedHold.from_json(row["hold_policy"]) if row["hold_policy"] else None,
        next_reminder_at=row["next_reminder_at"],
        recipient_requests=RecipientRequests.from_json(row["recipient_requests"] or {}),
    )
