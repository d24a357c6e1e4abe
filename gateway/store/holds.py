"""Soft holds: rows, per-class counts of the active ones, and the lock that orders them."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, Select, bindparam, func, insert, select, update
from sqlalchemy.orm import aliased

from gateway.domain.enums import CompartmentState, SizeClass
from gateway.domain.holds import Hold, HoldState
from gateway.domain.sizes import SizeRequirement
from gateway.errors import ConcurrentUpdate
from gateway.store._sql import Repository
from gateway.store.dimensions import dimension_columns, dimensions_of
from gateway.store.lockers import Only
from gateway.store.tables import compartments as c
from gateway.store.tables import holds as h

ACTIVE = HoldState.ACTIVE


def _not_fully_held() -> Only:
    """A compartment of a size class with more free compartments than active holds, as a
    clause built once (`h_locker_id`, `h_at`: its parameters)."""
    locker_id = bindparam("h_locker_id", type_=h.c.locker_id.type)
    at = bindparam("h_at", type_=h.c.expires_at.type)
    free = aliased(c)
    free_of_class = (
        select(func.count())
        .select_from(free)
        .where(
            free.c.locker_id == locker_id,
            free.c.state == CompartmentState.AVAILABLE,
            free.c.size_class == h.c.size_class,
        )
        .scalar_subquery()
    )
    fully_held = (
        select(h.c.size_class)
        .where(h.c.locker_id == locker_id, h.c.state == ACTIVE, h.c.expires_at > at)
        .group_by(h.c.size_class)
        .having(func.count() >= free_of_class)
    )
    return Only("not_fully_held", c.c.size_class.not_in(fully_held), {})


def _over_held() -> Select[Any]:
    """Active holds and free compartments of one class at one locker, counted in one
    statement built once (see `over_held`: every PostgreSQL booking sends it)."""
    locker_id = bindparam("h_locker_id", type_=h.c.locker_id.type)
    size_class = bindparam("h_size_class", type_=h.c.size_class.type)
    held = (
        select(func.count())
        .select_from(h)
        .where(
            h.c.locker_id == locker_id,
            h.c.size_class == size_class,
            h.c.state == ACTIVE,
            h.c.expires_at > bindparam("h_at", type_=h.c.expires_at.type),
        )
        .scalar_subquery()
    )
    free = (
        select(func.count())
        .select_from(c)
        .where(
            c.c.locker_id == locker_id,
            c.c.size_class == size_class,
            c.c.state == CompartmentState.AVAILABLE,
        )
        .scalar_subquery()
    )
    return select(held.label("held"), free.label("free"))


_NOT_FULLY_HELD = _not_fully_held()
_OF_CLASS = c.c.size_class == bindparam("h_size_class", type_=c.c.size_class.type)
_OVER_HELD = _over_held()


class HoldRepository(Repository):
    @property
    def recheck_after_claim(self) -> bool:
        """Whether a booking must count the holds again after its claim: on PostgreSQL,
        where a hold may commit between the two (see `lock_free_compartments`)."""
        return self._postgres

    async def insert(self, hold: Hold) -> None:
        await self._conn.execute(insert(h).values(**_row(hold)))

    async def get(self, hold_id: str, *, for_update: bool = False) -> Hold | None:
        stmt = select(h).where(h.c.hold_id == hold_id)
        if for_update and self._postgres:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _hold(row)

    async def attached_to(self, parcel_uid: str) -> Hold | None:
        """The active hold a parcel was announced with, if any."""
        stmt = select(h).where(h.c.parcel_uid == parcel_uid, h.c.state == ACTIVE)
        if self._postgres:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _hold(row)

    async def held(
        self, locker_id: str, at: datetime, *, excluding: str | None = None
    ) -> dict[SizeClass, int]:
        """Active holds at `locker_id` still running at `at`, per size class."""
        stmt = (
            select(h.c.size_class, func.count().label("n"))
            .where(h.c.locker_id == locker_id, h.c.state == ACTIVE, h.c.expires_at > at)
            .group_by(h.c.size_class)
        )
        if excluding is not None:
            stmt = stmt.where(h.c.hold_id != excluding)
        return {row.size_class: int(row.n) for row in await self._conn.execute(stmt)}

    def of_class(self, size_class: SizeClass) -> Only:
        """The allocation condition of a hold's parcel: a compartment of the held class."""
        return Only("of_class", _OF_CLASS, {"h_size_class": size_class})

    def not_fully_held(self, locker_id: str, at: datetime) -> Only:
        """The allocation condition of every other booking: a compartment of a size class
        with more free compartments than active holds. A subquery of the claiming statement
        itself, so a booking at a locker without holds costs no statement more."""
        return Only(
            _NOT_FULLY_HELD.shape, _NOT_FULLY_HELD.clause, {"h_locker_id": locker_id, "h_at": at}
        )

    async def over_held(self, locker_id: str, size_class: SizeClass, at: datetime) -> bool:
        """Whether `size_class` at `locker_id` has more active holds than free compartments
        (as of now: a statement of its own, with a fresh snapshot on PostgreSQL)."""
        params = {"h_locker_id": locker_id, "h_size_class": size_class, "h_at": at}
        row = (await self._conn.execute(_OVER_HELD, params)).one()
        return int(row.held) > int(row.free)

    async def lock_free_compartments(self, locker_id: str) -> None:
        """PostgreSQL: lock the locker's free compartment rows until the transaction ends.

        A hold is counted against free rows it does not claim; a booking claims a row with a
        conditional UPDATE and checks the holds after. Locking the free rows first makes the
        two meet on a row: a booking claiming one waits for the hold to commit (and then sees
        it), and a hold waits for a booking's claim (and then no longer counts that row).
        SQLite needs nothing: BEGIN IMMEDIATE has already serialised the two.
        """
        if not self._postgres:
            return
        stmt = (
            select(c.c.id)
            .where(c.c.locker_id == locker_id, c.c.state == CompartmentState.AVAILABLE)
            .order_by(c.c.id)
            .with_for_update()
        )
        await self._conn.execute(stmt)

    async def save(self, before: Hold, after: Hold) -> None:
        """Write `after` if the row is still as `before` left it, else ConcurrentUpdate."""
        stmt = (
            update(h)
            .where(
                h.c.hold_id == before.hold_id,
                h.c.state == before.state,
                h.c.parcel_uid.is_(None)
                if before.parcel_uid is None
                else h.c.parcel_uid == before.parcel_uid,
            )
            .values(
                state=after.state,
                updated_at=after.updated_at,
                ended_at=after.ended_at,
                parcel_uid=after.parcel_uid,
                parcel_id=after.parcel_id,
            )
        )
        if (await self._conn.execute(stmt)).rowcount != 1:
            raise ConcurrentUpdate(f"hold {before.hold_id} changed meanwhile")

    async def page(
        self,
        carrier_id: str,
        *,
        state: HoldState | None = None,
        locker_id: str | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 50,
    ) -> builtins.list[Hold]:
        """A carrier's holds, newest first; `after`: the (createdAt, holdId) to go on from."""
        stmt = select(h).where(h.c.carrier_id == carrier_id)
        if state is not None:
            stmt = stmt.where(h.c.state == state)
        if locker_id is not None:
            stmt = stmt.where(h.c.locker_id == locker_id)
        if after is not None:
            at, hold_id = after
            stmt = stmt.where(
                (h.c.created_at < at) | ((h.c.created_at == at) & (h.c.hold_id < hold_id))
            )
        stmt = stmt.order_by(h.c.created_at.desc(), h.c.hold_id.desc()).limit(limit)
        return [_hold(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def due(self, now: datetime, limit: int) -> builtins.list[Hold]:
        """Active holds whose time ran out, oldest first."""
        stmt = (
            select(h)
            .where(h.c.state == ACTIVE, h.c.expires_at <= now)
            .order_by(h.c.expires_at, h.c.hold_id)
            .limit(limit)
        )
        return [_hold(row) for row in (await self._conn.execute(stmt)).mappings()]


def _row(hold: Hold) -> dict[str, Any]:
    dims = hold.need.dimensions
    return {
        "hold_id": hold.hold_id,
        "carrier_id": hold.carrier_id,
        "locker_id": hold.locker_id,
        "size_class": hold.size_class,
        "requested_class": hold.need.size_class,
        **dimension_columns(dims),
        "weight_g": hold.need.weight_g,
        "state": hold.state,
        "created_at": hold.created_at,
        "expires_at": hold.expires_at,
        "updated_at": hold.updated_at,
        "ended_at": hold.ended_at,
        "parcel_uid": hold.parcel_uid,
        "parcel_id": hold.parcel_id,
        "reference": hold.reference,
    }


def _hold(row: RowMapping) -> Hold:
    dims = dimensions_of(row)
    return Hold(
        hold_id=row["hold_id"],
        carrier_id=row["carrier_id"],
        locker_id=row["locker_id"],
        size_class=row["size_class"],
        need=SizeRequirement(row["requested_class"], dims, row["weight_g"]),
        state=row["state"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        updated_at=row["updated_at"],
        ended_at=row["ended_at"],
        parcel_uid=row["parcel_uid"],
        parcel_id=row["parcel_id"],
        reference=row["reference"],
    )
