"""Locker queries for carriers (search, availability) and provisioning for operators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker, SizeAvailability
from gateway.domain.requirements import TemperatureClass
from gateway.errors import NotFound
from gateway.service.cursors import decode_cursor, encode_cursor
from gateway.store import Store


@dataclass(frozen=True, slots=True)
class LockerView:
    """A locker as a carrier sees it: no compartment-level detail, only per-size counts."""

    locker: Locker
    availability: list[SizeAvailability]
    distance_m: float | None = None


@dataclass(frozen=True, slots=True)
class LockerQuery:
    near: Location | None = None
    radius_m: float | None = None
    size_class: SizeClass | None = None
    cursor: str | None = None
    limit: int = 50


class LockerService:
    def __init__(self, *, store: Store) -> None:
        self._store = store

    async def search(self, query: LockerQuery) -> tuple[list[LockerView], str | None]:
        """Lockers by distance (when `near` is given) or by id, optionally only those with a
        free compartment of `size_class` or larger (booking picks the smallest that fits)."""
        async with self._store.transaction() as tx:
            lockers = await tx.lockers.list()
            counts = await tx.lockers.availability(None)
        views = [LockerView(lk, counts.get(lk.id, [])) for lk in lockers]
        if query.near is not None:
            near = query.near
            views = [
                LockerView(v.locker, v.availability, near.distance_m(v.locker.location))
                for v in views
            ]
            if query.radius_m is not None:
                radius = query.radius_m
                views = [v for v in views if v.distance_m is not None and v.distance_m <= radius]
            views.sort(key=lambda v: (v.distance_m, v.locker.id))
        if query.size_class is not None:
            views = [v for v in views if _has_room(v.availability, query.size_class)]
        # Lockers change rarely, so an offset cursor is good enough here.
        start = decode_cursor(query.cursor, "l") if query.cursor else 0
        page = views[start : start + query.limit]
        more = start + query.limit < len(views)
        return page, encode_cursor("l", start + query.limit) if more else None

    async def get(self, locker_id: str) -> LockerView:
        async with self._store.transaction() as tx:
            locker = await tx.lockers.get(locker_id)
            if locker is None:
                raise NotFound(f"no locker {locker_id!r}")
            counts = await tx.lockers.availability([locker_id])
        return LockerView(locker, counts.get(locker_id, []))

    async def provision(self, locker: Locker, compartments: Sequence[Compartment]) -> None:
        async with self._store.transaction() as tx:
            await tx.lockers.add(locker, compartments)

    async def compartments(self, locker_id: str) -> list[Compartment]:
        async with self._store.transaction() as tx:
            if await tx.lockers.get(locker_id) is None:
                raise NotFound(f"no locker {locker_id!r}")
            return await tx.lockers.compartments(locker_id)

    async def all(self) -> list[Locker]:
        async with self._store.transaction() as tx:
            return await tx.lockers.list()


def _has_room(availability: list[SizeAvailability], wanted: SizeClass) -> bool:
    """Room for a parcel without requirements: ambient doors only (a chilled one is not)."""
    return any(
        a.available > 0
        and a.size_class.rank >= wanted.rank
        and a.temperature is TemperatureClass.AMBIENT
        for a in availability
    )
