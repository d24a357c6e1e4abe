"""Lockers, their compartments, availability and race-free compartment allocation."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)

from gateway.domain.compartment import Compartment, rank_candidates
from gateway.domain.enums import CompartmentState, DoorState, ItemSensor
from gateway.domain.locker import Location, Locker, SizeAvailability
from gateway.domain.requirements import TemperatureClass, TemperatureSample
from gateway.domain.sizes import Dimensions, SizeRequirement
from gateway.errors import AlreadyExists, ConcurrentUpdate, NoCompartmentAvailable
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import compartments as c
from gateway.store.tables import lockers as t

AVAILABLE = CompartmentState.AVAILABLE
ALLOCATION_PAGE = 32

# Hot reads built once with bound parameters (see parcels.py: a reused statement skips its
# construction and cache-key generation).
_LOCKER = select(t).where(t.c.id == bindparam("locker_id"))
_COMPARTMENT = select(c).where(
    c.c.locker_id == bindparam("locker_id"), c.c.code == bindparam("code")
)

# A door reading: written where it changes anything, in one statement (set_door).
_HERE = (c.c.locker_id == bindparam("a_locker_id"), c.c.code == bindparam("a_code"))
_DOOR, _ITEM = (
    bindparam("a_door", type_=c.c.door.type),
    bindparam("a_item", type_=c.c.item_sensor.type),
)
_SET_DOOR = (
    update(c).where(*_HERE, c.c.door != _DOOR).values(door=_DOOR, updated_at=bindparam("a_now"))
)
_SET_DOOR_AND_ITEM = (
    update(c)
    .where(*_HERE, or_(c.c.door != _DOOR, c.c.item_sensor != _ITEM))
    .values(door=_DOOR, item_sensor=_ITEM, updated_at=bindparam("a_now"))
)


@dataclass(frozen=True, slots=True)
class Only:
    """A further condition on the compartments an allocation may claim, built once.

    `clause` reads its values from bound parameters that `params` gives for this booking;
    `shape` names the clause in the allocation statements' cache, so one clause object per
    shape (a module constant), never one per booking (gateway/store/holds.py makes them).
    """

    shape: str
    clause: ColumnElement[bool]
    params: Mapping[str, Any]


# Allocation order: class rank, inside volume, code (the domain's rank_candidates agrees).
_VOLUME = c.c.width_mm * c.c.height_mm * c.c.depth_mm
# What decides the text of an allocation's statements: which filters a booking's need has,
# its `Only`, the dialect. Bookings of one shape share prebuilt statements, and their values
# go as parameters: building the candidate query, its holds subquery and the claiming UPDATE
# anew cost ~2 ms of SQLAlchemy construction and cache-key work per booking (py-spy, the
# largest share of a booking's CPU before).
_Shape = tuple[bool, bool, bool, str | None]
_CANDIDATES: dict[_Shape, Select[Any]] = {}
_CLAIM_FIRST: dict[tuple[_Shape, bool], Any] = {}


class LockerRepository(Repository):
    async def add(self, locker: Locker, compartments: Sequence[Compartment]) -> None:
        """Store a locker with its compartment layout (AlreadyExists if the id is taken)."""
        codes = [comp.code for comp in compartments]
        if len(set(codes)) != len(codes):
            raise ValueError(f"locker {locker.id} lists a compartment code twice")
        if any(comp.locker_id != locker.id for comp in compartments):
            raise ValueError(f"every compartment must belong to locker {locker.id}")
        now = self._clock()
        values = {
            "id": locker.id,
            "name": locker.name,
            "lat": locker.location.lat,
            "lon": locker.location.lon,
            "address": locker.location.address,
            "adapter": locker.adapter,
            "features": sorted(locker.features),
            "created_at": now,
        }
        if not await insert_if_absent(self._conn, t, values):
            raise AlreadyExists(f"locker {locker.id} exists already", details={"id": locker.id})
        if compartments:
            await self._conn.execute(insert(c), [_compartment_row(x, now) for x in compartments])

    async def get(self, locker_id: str) -> Locker | None:
        row = (await self._conn.execute(_LOCKER, {"locker_id": locker_id})).mappings().first()
        return None if row is None else _locker(row)

    async def list(self) -> builtins.list[Locker]:
        rows = (await self._conn.execute(select(t).order_by(t.c.id))).mappings()
        return [_locker(row) for row in rows]

    async def compartments(self, locker_id: str) -> builtins.list[Compartment]:
        stmt = select(c).where(c.c.locker_id == locker_id).order_by(c.c.code)
        return [_compartment(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def compartment(self, locker_id: str, code: str) -> Compartment | None:
        params = {"locker_id": locker_id, "code": code}
        row = (await self._conn.execute(_COMPARTMENT, params)).mappings().first()
        return None if row is None else _compartment(row)

    async def save_compartment(self, before: Compartment, after: Compartment) -> None:
        """Write `after` if the row still has `before`'s state and parcel, else ConcurrentUpdate."""
        if (before.locker_id, before.code) != (after.locker_id, after.code):
            raise ValueError("save_compartment cannot move a compartment to another locker/code")
        stmt = (
            update(c)
            .where(
                c.c.locker_id == before.locker_id,
                c.c.code == before.code,
                c.c.state == before.state,
                _same_parcel(before.parcel_uid),
            )
            .values(
                state=after.state,
                door=after.door,
                item_sensor=after.item,
                parcel_uid=after.parcel_uid,
                updated_at=self._clock(),
            )
        )
        if (await self._conn.execute(stmt)).rowcount != 1:
            raise ConcurrentUpdate(
                f"compartment {before.code} of locker {before.locker_id} changed meanwhile",
                details={"lockerId": before.locker_id, "compartment": before.code},
            )

    async def set_door(
        self, locker_id: str, code: str, *, door: DoorState, item: ItemSensor | None = None
    ) -> bool:
        """The door's reading (and the item sensor's, if given) in one conditional UPDATE,
        written only where it differs; False when nothing was written (already so, or no such
        compartment). It leaves state and parcel alone, so it needs no read before it."""
        params: dict[str, Any] = {"a_locker_id": locker_id, "a_code": code, "a_door": door}
        params["a_now"] = self._clock()
        if item is None:
            return (await self._conn.execute(_SET_DOOR, params)).rowcount == 1
        params["a_item"] = item
        return (await self._conn.execute(_SET_DOOR_AND_ITEM, params)).rowcount == 1

    async def record_temperature(
        self, locker_id: str, code: str, *, celsius: float | None, at: datetime, alarm: bool
    ) -> None:
        """A locker's temperature report: the alarm flag (allocation skips an alarmed door)
        and, when it came with one, the reading. Door, occupancy and parcel are untouched."""
        values: dict[str, Any] = {"temperature_alarm": alarm, "updated_at": self._clock()}
        if celsius is not None:
            values |= {"temperature_c": celsius, "temperature_at": at}
        stmt = update(c).where(c.c.locker_id == locker_id, c.c.code == code).values(values)
        await self._conn.execute(stmt)

    async def availability(
        self, locker_ids: Sequence[str] | None = None
    ) -> dict[str, builtins.list[SizeAvailability]]:
        """Per locker, per size class (XS first) and temperature class (ambient first): free
        and total compartments. A door whose temperature is out of range is not free.

        Only lockers that have compartments appear in the result.
        """
        if locker_ids is not None and not locker_ids:
            return {}
        takes = (c.c.state == AVAILABLE) & c.c.temperature_alarm.is_(False)
        free = func.sum(case((takes, 1), else_=0))
        heat = c.c.temperature_class
        # Ambient, chilled, frozen: the enum's order, not the alphabet's.
        heat_rank = case({t.value: n for n, t in enumerate(TemperatureClass)}, value=heat)
        stmt = (
            select(c.c.locker_id, c.c.size_class, heat, func.count().label("total"))
            .add_columns(free.label("free"))
            .group_by(c.c.locker_id, c.c.size_class, c.c.size_rank, heat)
            .order_by(c.c.locker_id, c.c.size_rank, heat_rank)
        )
        if locker_ids is not None:
            stmt = stmt.where(c.c.locker_id.in_(locker_ids))
        result: dict[str, builtins.list[SizeAvailability]] = {}
        for row in (await self._conn.execute(stmt)).mappings():
            entry = SizeAvailability(
                row["size_class"], int(row["free"]), int(row["total"]), row["temperature_class"]
            )
            result.setdefault(row["locker_id"], []).append(entry)
        return result

    async def allocate(
        self,
        locker_id: str,
        need: SizeRequirement,
        parcel_uid: str,
        *,
        only: Only | None = None,
    ) -> Compartment:
        """Reserve the smallest free compartment that fits; NoCompartmentAvailable if none.

        `only`: a further condition on the candidate rows, part of the claiming statement:
        soft holds (gateway/store/holds.py) keep bookings out of a fully held size class and
        a hold's parcel in its class.

        The conditional UPDATE (`... AND state = 'available'`) is what makes this race-free:
        of two transactions claiming one row, the second matches nothing and moves on. On
        PostgreSQL the first pass skips rows another transaction is claiming right now
        (SKIP LOCKED), so concurrent bookings spread over the compartments instead of queueing
        on the smallest one; a second pass waits for those rows, in case their claimant rolls
        back. On SQLite, BEGIN IMMEDIATE has already serialised us.
        """
        shape, params = _candidate_params(locker_id, need, only)
        stmt = _CANDIDATES.get(shape)
        if stmt is None:
            stmt = _CANDIDATES[shape] = _candidates(shape, only)
        # Pages in the domain's own order (class rank, inside volume, code), keyed on that
        # order so rows claimed meanwhile cannot shift a candidate past us: a big locker
        # costs one small page per booking, not a read of every free door.
        if need.dimensions is None:
            # Without dimensions the SQL filters are the whole fit test and the SQL order
            # is the domain's: claim the first row in one statement (the common booking).
            claimed = await self._claim_first(shape, stmt, params, parcel_uid)
            if claimed is not None:
                return claimed
        busy: builtins.list[Compartment] = []
        after: tuple[int, int, str] | None = None
        while True:
            page_stmt = stmt.order_by(c.c.size_rank, _VOLUME, c.c.code).limit(ALLOCATION_PAGE)
            if after is not None:
                page_stmt = page_stmt.where(tuple_(c.c.size_rank, _VOLUME, c.c.code) > after)
            rows = (await self._conn.execute(page_stmt, params)).mappings()
            page = [_compartment(row) for row in rows]
            for candidate in rank_candidates(page, need):
                if await self._claim(candidate, parcel_uid, skip_locked=self._postgres):
                    return candidate.reserve(parcel_uid)
                busy.append(candidate)
            if len(page) < ALLOCATION_PAGE:
                break
            last = page[-1]
            after = (last.size_class.rank, last.inside.volume_mm3, last.code)
        if self._postgres:
            for candidate in busy:
                if await self._claim(candidate, parcel_uid, skip_locked=False):
                    return candidate.reserve(parcel_uid)
        raise NoCompartmentAvailable(
            f"no free compartment at locker {locker_id} fits the parcel",
            details={"lockerId": locker_id},
        )

    async def _claim_first(
        self, shape: _Shape, candidates: Select[Any], params: dict[str, Any], parcel_uid: str
    ) -> Compartment | None:
        """Claim the first of `candidates` in allocation order with one UPDATE ... RETURNING;
        None when none is free (or, on PostgreSQL, all are being claimed by others right now:
        then the paged path waits for them)."""
        key = (shape, self._postgres)
        stmt = _CLAIM_FIRST.get(key)
        if stmt is None:
            stmt = _CLAIM_FIRST[key] = _claim_first(candidates, skip_locked=self._postgres)
        values = params | {"a_parcel_uid": parcel_uid, "a_now": self._clock()}
        row = (await self._conn.execute(stmt, values)).mappings().first()
        return None if row is None else _compartment(row)

    async def _claim(self, candidate: Compartment, parcel_uid: str, *, skip_locked: bool) -> bool:
        key = (c.c.locker_id == candidate.locker_id, c.c.code == candidate.code)
        target: ColumnElement[Any]
        if skip_locked:
            target = c.c.id == (
                select(c.c.id)
                .where(*key, c.c.state == AVAILABLE)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
        else:
            target = c.c.state == AVAILABLE
        stmt = (
            update(c)
            .where(*key, target)
            .values(
                state=CompartmentState.RESERVED, parcel_uid=parcel_uid, updated_at=self._clock()
            )
        )
        return (await self._conn.execute(stmt)).rowcount == 1


def _candidate_params(
    locker_id: str, need: SizeRequirement, only: Only | None
) -> tuple[_Shape, dict[str, Any]]:
    """The shape of an allocation's candidate query and this booking's values for it."""
    wanted = need.requirements
    params: dict[str, Any] = {
        "a_locker_id": locker_id,
        "a_temperature_class": wanted.temperature_class,
    }
    # Cheap pre-filters in SQL; rank_candidates decides fit (rotation) and order.
    if need.size_class is not None:
        params["a_size_rank"] = need.size_class.rank
    if need.weight_g is not None:
        params["a_weight_g"] = need.weight_g
    reach = wanted.accessible
    if reach is not None:
        params["a_reach_min"] = reach.min_mm
        params["a_reach_max"] = reach.max_mm
    if only is not None:
        params |= only.params
    shape = (
        need.size_class is not None,
        need.weight_g is not None,
        reach is not None,
        None if only is None else only.shape,
    )
    return shape, params


def _candidates(shape: _Shape, only: Only | None) -> Select[Any]:
    """The free compartments of a locker that a need of `shape` may take, every value a bound
    parameter (named as `_candidate_params` fills them; `a_`: an UPDATE's bind names must
    differ from its table's column names)."""
    by_class, by_weight, by_reach, _ = shape
    stmt = select(c).where(c.c.locker_id == bindparam("a_locker_id"), c.c.state == AVAILABLE)
    if by_class:
        stmt = stmt.where(c.c.size_rank >= bindparam("a_size_rank"))
    if by_weight:
        stmt = stmt.where(c.c.max_weight_g >= bindparam("a_weight_g"))
    # The delivery requirements: the whole test (domain admits() agrees).
    stmt = stmt.where(
        c.c.temperature_class == bindparam("a_temperature_class"),
        c.c.temperature_alarm.is_(False),
    )
    if by_reach:
        stmt = stmt.where(
            c.c.floor_mm >= bindparam("a_reach_min"),
            c.c.floor_mm + c.c.height_mm <= bindparam("a_reach_max"),
        )
    if only is not None:
        stmt = stmt.where(only.clause)
    return stmt


def _claim_first(candidates: Select[Any], *, skip_locked: bool) -> Any:
    """UPDATE ... RETURNING of the first candidate in allocation order (see _claim_first)."""
    first = candidates.with_only_columns(c.c.id).order_by(c.c.size_rank, _VOLUME, c.c.code)
    first = first.limit(1)
    if skip_locked:
        first = first.with_for_update(skip_locked=True)
    return (
        update(c)
        .where(c.c.id == first.scalar_subquery(), c.c.state == AVAILABLE)
        .values(
            state=CompartmentState.RESERVED,
            parcel_uid=bindparam("a_parcel_uid"),
            updated_at=bindparam("a_now"),
        )
        .returning(*c.c)
    )


def _same_parcel(parcel_uid: str | None) -> ColumnElement[bool]:
    return c.c.parcel_uid.is_(None) if parcel_uid is None else c.c.parcel_uid == parcel_uid


def _locker(row: RowMapping) -> Locker:
    location = Location(row["lat"], row["lon"], row["address"])
    return Locker(row["id"], row["name"], location, row["adapter"], frozenset(row["features"]))


def _compartment(row: RowMapping) -> Compartment:
    return Compartment(
        locker_id=row["locker_id"],
        code=row["code"],
        size_class=row["size_class"],
        inside=Dimensions(row["width_mm"], row["height_mm"], row["depth_mm"]),
        max_weight_g=row["max_weight_g"],
        state=row["state"],
        door=row["door"],
        item=row["item_sensor"],
        parcel_uid=row["parcel_uid"],
        temperature=row["temperature_class"],
        floor_mm=row["floor_mm"],
        temperature_alarm=row["temperature_alarm"],
        reading=None
        if row["temperature_c"] is None
        else TemperatureSample(row["temperature_c"], row["temperature_at"]),
    )


def _compartment_row(comp: Compartment, now: datetime) -> dict[str, Any]:
    return {
        "locker_id": comp.locker_id,
        "code": comp.code,
        "size_class": comp.size_class,
        "size_rank": comp.size_class.rank,
        "width_mm": comp.inside.width_mm,
        "height_mm": comp.inside.height_mm,
        "depth_mm": comp.inside.depth_mm,
        "max_weight_g": comp.max_weight_g,
        "state": comp.state,
        "door": comp.door,
        "item_sensor": comp.item,
        "parcel_uid": comp.parcel_uid,
        "updated_at": now,
        "temperature_class": comp.temperature,
        "floor_mm": comp.floor_mm,
        "temperature_alarm": comp.temperature_alarm,
        "temperature_c": None if comp.reading is None else comp.reading.celsius,
        "temperature_at": None if comp.reading is None else comp.reading.at,
    }
