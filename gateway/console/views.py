"""View models: what each console page shows, assembled from the admin services and the read
model. Pure shaping, no HTTP; the routes render them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from gateway.console.reads import RETRYING, AlarmedDoor, ConsoleReads, TargetLag
from gateway.domain.courier import ManifestLine as CollectLine
from gateway.domain.enums import CompartmentState, DoorState, ParcelState, SizeClass
from gateway.domain.keypad import KeypadCounter
from gateway.domain.parcel import Parcel
from gateway.domain.requirements import TemperatureClass
from gateway.service.admin_views import AdminViews, CompartmentStatus, LockerStatus, ParcelFilter

# Columns of the by-size table, in the words an operator uses.
STATE_COLUMNS = (
    (CompartmentState.AVAILABLE.value, "Free"),
    (CompartmentState.RESERVED.value, "Reserved"),
    (CompartmentState.OCCUPIED.value, "Occupied"),
    (CompartmentState.OUT_OF_SERVICE.value, "Out of service"),
)
# A page of parcels never grows past this; the page says when there were more.
MAX_LIST = 500


@dataclass(frozen=True, slots=True)
class Fault:
    """Something wrong right now, with where to look."""

    what: str
    where: str
    href: str


@dataclass(slots=True)
class Overview:
    lockers: list[LockerStatus]
    by_size: list[tuple[str, dict[str, int], int]]  # size, state → count, total
    totals: dict[str, int]
    faults: list[Fault] = field(default_factory=list)
    lockouts: list[KeypadCounter] = field(default_factory=list)

    @property
    def online(self) -> int:
        return sum(1 for s in self.lockers if s.presence and s.presence.online)

    @property
    def offline(self) -> int:
        return len(self.lockers) - self.online


@dataclass(frozen=True, slots=True)
class ManifestLine:
    locker_id: str
    compartment: str
    parcel: Parcel
    # expired, overdue (the window ran out, expiry not yet recorded), redirected,
    # pickup_failed, dropped_off (first mile): gateway/domain/courier.py CollectReason
    reason: str


async def overview(views: AdminViews, reads: ConsoleReads, now: datetime) -> Overview:
    lockers = await views.lockers()
    counts = await reads.counts_by_size()
    sizes: list[str] = [s.value for s in SizeClass if s.value in counts]
    by_size = [(size, counts[size], sum(counts[size].values())) for size in sizes]
    totals: dict[str, int] = defaultdict(int)
    for _, states, _ in by_size:
        for state, n in states.items():
            totals[state] += n
    result = Overview(lockers, by_size, dict(totals))
    for status in lockers:
        locker = status.locker
        href = f"/console/lockers/{locker.id}"
        if not (status.presence and status.presence.online):
            result.faults.append(Fault("Locker offline", locker.id, href))
        out = status.compartment_states.get(CompartmentState.OUT_OF_SERVICE.value, 0)
        if out:
            plural = "s" if out > 1 else ""
            what = f"{out} compartment{plural} out of service"
            result.faults.append(Fault(what, locker.id, href))
    for seen in await reads.overloads(now):
        href = f"/console/lockers/{seen.locker_id}"
        result.faults.append(Fault(seen.words(), seen.locker_id, href))
    for locker_id, code in await reads.jammed_doors():
        result.faults.append(
            Fault(f"Door {code} jammed", locker_id, f"/console/lockers/{locker_id}#cell-{code}")
        )
    for alarmed in await reads.alarmed_doors():
        href = f"/console/lockers/{alarmed.locker_id}#cell-{alarmed.code}"
        result.faults.append(Fault(alarmed.words(), alarmed.locker_id, href))
    result.lockouts = await views.keypad_lockouts()
    for lockout in result.lockouts:
        locked = lockout.locked_until
        until = locked.astimezone(UTC).strftime("%H:%M") if locked else ""
        result.faults.append(
            Fault(f"Keypad locked until {until} UTC", lockout.locker_id, "#keypads")
        )
    dead = sum(t.states.get("dead", 0) for t in await reads.delivery_lag())
    if dead:
        result.faults.append(Fault(f"{dead} dead deliveries", "connectors", "/console/deliveries"))
    return result


def cell_view(row: CompartmentStatus, now: datetime) -> dict[str, object]:
    """One compartment of the grid: its states as data attributes and words."""
    c, parcel = row.compartment, row.parcel
    overdue = bool(
        parcel
        and parcel.pickup_until is not None
        and parcel.pickup_until < now
        and parcel.state in (ParcelState.READY_FOR_PICKUP, ParcelState.EXPIRED)
    )
    return {
        "code": c.code,
        "size": c.size_class.value,
        "state": c.state.value,
        "door": c.door.value,
        "item": c.item.value,
        "jammed": c.door is DoorState.JAMMED,
        # Cold doors say their class (ambient is the default and says nothing), and an alarm.
        "cold": None if c.temperature is TemperatureClass.AMBIENT else c.temperature.value,
        "alarm": c.temperature_alarm,
        "parcel": parcel,
        "overdue": overdue,
    }


def alarmed(rows: list[CompartmentStatus]) -> list[AlarmedDoor]:
    """A locker's doors whose temperature alarm is raised, from the rows its page has read."""
    return [
        AlarmedDoor(
            c.locker_id,
            c.code,
            c.temperature.value,
            None if c.reading is None else c.reading.celsius,
            None if c.reading is None else c.reading.at,
        )
        for c in (row.compartment for row in rows)
        if c.temperature_alarm
    ]


async def all_parcels(views: AdminViews, where: ParcelFilter) -> tuple[list[Parcel], bool]:
    """Every matching parcel up to MAX_LIST; whether there were more."""
    found: list[Parcel] = []
    cursor: str | None = None
    while len(found) < MAX_LIST:
        items, cursor = await views.parcels(where, cursor=cursor, limit=200)
        found.extend(items)
        if cursor is None:
            return found[:MAX_LIST], False
    return found[:MAX_LIST], True


def end_of_day(now: datetime) -> datetime:
    """The end of today (UTC): "expiring today" is before it."""
    today = now.astimezone(UTC).date()
    return datetime.combine(today + timedelta(days=1), time(), tzinfo=UTC)


async def due_parcels(views: AdminViews, now: datetime) -> tuple[list[Parcel], list[Parcel], bool]:
    """Overdue parcels (window run out, still inside) and those whose window ends today."""
    overdue, more = await all_parcels(views, ParcelFilter(overdue=True))
    today, more_today = await all_parcels(
        views, ParcelFilter(state=ParcelState.READY_FOR_PICKUP, pickup_before=end_of_day(now))
    )
    expiring = [p for p in today if p.pickup_until is not None and p.pickup_until >= now]
    expiring.sort(key=lambda p: (p.pickup_until or now, p.locker_id))
    overdue.sort(key=lambda p: (p.locker_id, p.compartment_code or ""))
    return overdue, expiring, more or more_today


def manifest(collect: list[CollectLine], locker_id: str | None) -> dict[str, list[ManifestLine]]:
    """The courier's round: per locker, each parcel to take back with its compartment."""
    rounds: dict[str, list[ManifestLine]] = defaultdict(list)
    for line in collect:
        parcel = line.parcel
        if locker_id and parcel.locker_id != locker_id:
            continue
        if parcel.compartment_code is None:
            continue  # nothing inside to collect
        rounds[parcel.locker_id].append(
            ManifestLine(parcel.locker_id, parcel.compartment_code, parcel, line.reason.value)
        )
    for lines in rounds.values():
        lines.sort(key=lambda line: line.compartment)
    return dict(sorted(rounds.items()))


def lag_rows(lags: list[TargetLag], now: datetime) -> list[dict[str, object]]:
    return [
        {
            "kind": lag.target_kind,
            "target": lag.target_id,
            "carrier": lag.carrier_id,
            "pending": lag.states.get("pending", 0),
            "retrying": lag.states.get(RETRYING, 0),
            "delivered": lag.states.get("delivered", 0),
            "dead": lag.states.get("dead", 0),
            "skipped": lag.states.get("skipped", 0),
            "lag": lag.lag(now),
        }
        for lag in lags
    ]
