"""The collection manifest: per locker, each parcel a carrier's courier should take back.

The query is the console's (AdminViews.parcels and its `overdue` filter: ready for pickup with
the window run out, or expired) through the same repository search, plus the other states a
parcel waits in to be collected (redirected, pickup failed, first-mile dropped off). Carriers
read their own parcels; the console (carrier None) reads every carrier's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.clock import Clock, utc_now
from gateway.domain.courier import COLLECT_STATES, OVERDUE_STATES, ManifestLine, manifest_lines
from gateway.domain.parcel import Parcel
from gateway.errors import NotFound, ValidationFailed
from gateway.store import Store, UnitOfWork

# A manifest lists at most this many parcels (the console's bound too); `truncated` says more.
MAX_LINES = 500
# A route names at most this many lockers.
MAX_ROUTE_LOCKERS = 50
_PAGE = 200


@dataclass(frozen=True, slots=True)
class LockerManifest:
    locker_id: str
    lines: list[ManifestLine]


@dataclass(frozen=True, slots=True)
class Manifest:
    """A route's manifest: its lockers in the route's order (every locker named, even with
    nothing to collect), or every locker with something to collect when no route is given."""

    generated_at: datetime
    lockers: list[LockerManifest]
    truncated: bool

    @property
    def count(self) -> int:
        return sum(len(locker.lines) for locker in self.lockers)


async def lines_in(
    tx: UnitOfWork,
    now: datetime,
    *,
    carrier_id: str | None,
    locker_id: str | None,
    limit: int = MAX_LINES,
) -> tuple[list[ManifestLine], bool]:
    """The manifest lines of one locker (or all), read in `tx`; whether there were more."""
    found: list[Parcel] = []
    more = False
    for states, before in ((COLLECT_STATES, None), (OVERDUE_STATES, now)):
        after: int | None = None
        while True:
            items, after = await tx.parcels.search(
                carrier_id=carrier_id,
                states=states,
                locker_id=locker_id,
                pickup_before=before,
                after_seq=after,
                limit=_PAGE,
            )
            found.extend(items)
            if len(found) > limit:
                more = True
                break
            if after is None:
                break
        if more:
            break
    lines = manifest_lines(found, now)
    return lines[:limit], more or len(lines) > limit


class CollectionManifests:
    def __init__(self, *, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def route(self, carrier_id: str | None, locker_ids: list[str] | None) -> Manifest:
        """The manifest of a route (`locker_ids` in the order the courier drives them), of one
        locker, or (None) of the whole network. NotFound names an unknown locker."""
        now = self._clock()
        if locker_ids is not None:
            _check_route(locker_ids)
        async with self._store.transaction() as tx:
            if locker_ids is None:
                lines, truncated = await lines_in(tx, now, carrier_id=carrier_id, locker_id=None)
                by_locker: dict[str, list[ManifestLine]] = {}
                for line in lines:
                    by_locker.setdefault(line.parcel.locker_id, []).append(line)
                lockers = [LockerManifest(lid, found) for lid, found in by_locker.items()]
                return Manifest(now, lockers, truncated)
            lockers = []
            truncated = False
            left = MAX_LINES
            for locker_id in locker_ids:
                if await tx.lockers.get(locker_id) is None:
                    raise NotFound(f"no locker {locker_id!r}", details={"lockerId": locker_id})
                lines, more = await lines_in(
                    tx, now, carrier_id=carrier_id, locker_id=locker_id, limit=left
                )
                lockers.append(LockerManifest(locker_id, lines))
                left -= len(lines)
                truncated = truncated or more
        return Manifest(now, lockers, truncated)


def _check_route(locker_ids: list[str]) -> None:
    if not locker_ids:
        raise ValidationFailed("a route names at least one locker")
    if len(locker_ids) > MAX_ROUTE_LOCKERS:
        raise ValidationFailed(
            f"a route names at most {MAX_ROUTE_LOCKERS} lockers, not {len(locker_ids)}",
            details={"max": MAX_ROUTE_LOCKERS},
        )
    if len(set(locker_ids)) != len(locker_ids):
        raise ValidationFailed("a route names each locker once")
