"""What operators read: lockers with live presence, compartments, parcels of every carrier,
keypad lockouts. Read-only; the actions are in admin_actions.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.clock import Clock, utc_now
from gateway.domain.compartment import Compartment
from gateway.domain.courier import ManifestLine
from gateway.domain.enums import ParcelState
from gateway.domain.keypad import KeypadCounter
from gateway.domain.locker import Locker, SizeAvailability
from gateway.domain.parcel import Parcel, ParcelEvent
from gateway.errors import NotFound
from gateway.service.collection_manifest import lines_in
from gateway.service.cursors import decode_cursor, encode_cursor
from gateway.store import Store
from gateway.store.locker_sessions import LockerSession

CURSOR_KIND = "ap"
# Parcels whose pickup window has run out but which are still inside a compartment.
OVERDUE_STATES = (ParcelState.READY_FOR_PICKUP, ParcelState.EXPIRED)


@dataclass(frozen=True, slots=True)
class LockerStatus:
    """A locker as the operations team sees it: presence and per-state compartment counts."""

    locker: Locker
    presence: LockerSession | None
    availability: list[SizeAvailability]
    compartment_states: dict[str, int]


@dataclass(frozen=True, slots=True)
class CompartmentStatus:
    compartment: Compartment
    parcel: Parcel | None


@dataclass(frozen=True, slots=True)
class ParcelFilter:
    state: ParcelState | None = None
    locker_id: str | None = None
    carrier_id: str | None = None
    overdue: bool = False
    pickup_before: datetime | None = None
    # A parcel's uid, the carrier's parcel id or reference, matched exactly.
    identifier: str | None = None


class AdminViews:
    def __init__(self, *, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def lockers(self) -> list[LockerStatus]:
        async with self._store.transaction() as tx:
            lockers = await tx.lockers.list()
            counts = await tx.lockers.availability(None)
            statuses = []
            for locker in lockers:
                compartments = await tx.lockers.compartments(locker.id)
                statuses.append(
                    LockerStatus(
                        locker=locker,
                        presence=await tx.sessions.get(locker.id),
                        availability=counts.get(locker.id, []),
                        compartment_states=_by_state(compartments),
                    )
                )
        return statuses

    async def locker(self, locker_id: str) -> tuple[LockerStatus, list[CompartmentStatus]]:
        async with self._store.transaction() as tx:
            locker = await tx.lockers.get(locker_id)
            if locker is None:
                raise NotFound(f"no locker {locker_id!r}")
            compartments = await tx.lockers.compartments(locker_id)
            counts = await tx.lockers.availability([locker_id])
            status = LockerStatus(
                locker=locker,
                presence=await tx.sessions.get(locker_id),
                availability=counts.get(locker_id, []),
                compartment_states=_by_state(compartments),
            )
            rows = []
            for compartment in compartments:
                uid = compartment.parcel_uid
                parcel = await tx.parcels.get_by_uid(uid) if uid else None
                rows.append(CompartmentStatus(compartment, parcel))
        return status, rows

    async def parcels(
        self, where: ParcelFilter, *, cursor: str | None = None, limit: int = 50
    ) -> tuple[list[Parcel], str | None]:
        """One page of every carrier's parcels in booking order, filtered."""
        after = decode_cursor(cursor, CURSOR_KIND) if cursor else None
        states: tuple[ParcelState, ...] | None = None if where.state is None else (where.state,)
        pickup_before = where.pickup_before
        if where.overdue:
            states = tuple(s for s in (states or OVERDUE_STATES) if s in OVERDUE_STATES)
            now = self._clock()
            pickup_before = min(pickup_before, now) if pickup_before else now
        async with self._store.transaction() as tx:
            items, next_seq = await tx.parcels.search(
                carrier_id=where.carrier_id,
                states=states,
                locker_id=where.locker_id,
                pickup_before=pickup_before,
                identifier=where.identifier,
                after_seq=after,
                limit=limit,
            )
        return items, encode_cursor(CURSOR_KIND, next_seq) if next_seq is not None else None

    async def parcel(self, uid: str) -> tuple[Parcel, list[ParcelEvent]]:
        async with self._store.transaction() as tx:
            parcel = await tx.parcels.get_by_uid(uid)
            if parcel is None:
                raise NotFound(f"no parcel with uid {uid!r}")
            return parcel, await tx.events.list(uid)

    async def collection(self, locker_id: str | None = None) -> tuple[list[ManifestLine], bool]:
        """Every carrier's collection manifest (the carrier API's, gateway/service/
        collection_manifest.py): what couriers should take back; whether there was more."""
        async with self._store.transaction() as tx:
            return await lines_in(tx, self._clock(), carrier_id=None, locker_id=locker_id)

    async def keypad_lockouts(self) -> list[KeypadCounter]:
        async with self._store.transaction() as tx:
            return await tx.keypads.locked(self._clock())


def _by_state(compartments: list[Compartment]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for compartment in compartments:
        counts[compartment.state.value] = counts.get(compartment.state.value, 0) + 1
    return counts
