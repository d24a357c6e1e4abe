"""The console's read model: aggregate figures the admin services do not answer (counts by
size, carrier volumes, dwell times, delivery lag, the audit trail newest first) and the cheap
compartment fingerprints the live feed compares.

Every query runs on a plain read connection (`store.engine.connect()`), as /metrics does: on
SQLite `store.transaction()` takes the write lock, which a page view has no business holding.
Figures over time are bounded (`REPORT_DAYS`, `MAX_REPORT_ROWS`) so a page never scans a
whole history.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select

from gateway.auth.operator_secrets import digest
from gateway.clock import Clock, utc_now
from gateway.console.overloads import OverloadSeen, recent_overloads
from gateway.domain.enums import DoorState, ParcelState
from gateway.domain.operators import SessionPolicy
from gateway.domain.webhooks import DeliveryState
from gateway.store import Store
from gateway.store.audit import AuditRecord
from gateway.store.operators import OperatorRepository
from gateway.store.tables import (
    compartments,
    courier_session_doors,
    courier_sessions,
    locker_sessions,
    outbox,
    parcel_events,
    parcels,
)

REPORT_DAYS = 30
# Pending rows that have failed at least once: a target failing now.
RETRYING = "retrying"
MAX_REPORT_ROWS = 50_000
# Dwell-time buckets: upper bounds, and the words a chart shows for them.
DWELL_BUCKETS: tuple[tuple[timedelta, str], ...] = (
    (timedelta(hours=1), "< 1 h"),
    (timedelta(hours=6), "1-6 h"),
    (timedelta(hours=24), "6-24 h"),
    (timedelta(days=2), "1-2 d"),
    (timedelta(days=3), "2-3 d"),
    (timedelta.max, "> 3 d"),
)

# A compartment as the live grid shows it: (code, state, door, item sensor, parcel uid,
# temperature alarm).
CellPrint = tuple[str, str, str, str, str | None, bool]


@dataclass(frozen=True, slots=True)
class GridPrint:
    """Everything a locker page's grid shows that can change, cheap to read and compare."""

    online: bool
    cells: tuple[CellPrint, ...]


@dataclass(frozen=True, slots=True)
class TargetLag:
    """One delivery target: rows by state and the age of its oldest pending row (its lag)."""

    target_kind: str
    target_id: str
    carrier_id: str
    states: dict[str, int]
    oldest_pending: datetime | None

    def lag(self, now: datetime) -> timedelta | None:
        return None if self.oldest_pending is None else max(now - self.oldest_pending, timedelta())


@dataclass(frozen=True, slots=True)
class AlarmedDoor:
    """A compartment whose locker reports its temperature out of its class's range, with the
    reading that raised the alarm (the only one stored: store/lockers.py record_temperature)."""

    locker_id: str
    code: str
    temperature_class: str
    celsius: float | None
    at: datetime | None

    def words(self) -> str:
        reading = "" if self.celsius is None else f": {self.celsius:g} °C"
        since = "" if self.at is None else f" at {self.at:%H:%M} UTC"
        return f"Door {self.code} ({self.temperature_class}) out of its range{reading}{since}"


@dataclass(frozen=True, slots=True)
class OpenRound:
    """A courier session at a locker whose code still works, and how many doors it opened."""

    session_id: str
    carrier_id: str
    courier_ref: str | None
    opened_at: datetime
    expires_at: datetime
    doors_opened: int


@dataclass(slots=True)
class Report:
    """Carrier volumes, dwell times and peak hours over the last `days`."""

    days: int
    since: datetime
    volumes: dict[str, int] = field(default_factory=dict)  # parcels booked per carrier
    dwell: list[tuple[str, int]] = field(default_factory=list)  # bucket words, pickups
    dwell_median: timedelta | None = None
    deposits_by_hour: list[int] = field(default_factory=lambda: [0] * 24)  # UTC hours
    pickups_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class AuditPage:
    rows: list[AuditRecord]  # newest first
    head_position: int
    older: int | None  # the `before` of the next (older) page, None at the start
    newer: int | None  # the `before` of the previous (newer) page, None at the head


class ConsoleReads:
    def __init__(self, *, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def counts_by_size(self) -> dict[str, dict[str, int]]:
        """Compartments of the whole network: size class → state → count."""
        stmt = select(compartments.c.size_class, compartments.c.state, func.count()).group_by(
            compartments.c.size_class, compartments.c.state
        )
        found: dict[str, dict[str, int]] = defaultdict(dict)
        async with self._store.engine.connect() as conn:
            for size, state, n in (await conn.execute(stmt)).all():
                found[str(size)][str(state)] = int(n)
        return dict(found)

    async def session_deadline(self, session_id: str, policy: SessionPolicy) -> datetime | None:
        """When the session stops being accepted, None if it has ended (signed out, expired,
        operator disabled). Unlike `OperatorAuth.session` it never moves the idle deadline:
        a page left open with its live stream is not the operator's activity."""
        async with self._store.engine.connect() as conn:
            operators = OperatorRepository(conn, clock=self._clock)
            found = await operators.session(digest(session_id))
            record = None if found is None else await operators.get(found.operator_id)
        if found is None or record is None or not record.operator.active:
            return None
        deadline = policy.expiry(found.created_at, found.last_seen_at)
        return None if self._clock() >= deadline else deadline

    async def overloads(self, now: datetime) -> list[OverloadSeen]:
        """Lockers' lane overloads going on or just ended, from the audit trail (overloads.py)."""
        return await recent_overloads(self._store.engine, now)

    async def jammed_doors(self) -> list[tuple[str, str]]:
        """(locker, compartment) of every door reported jammed now."""
        c = compartments.c
        stmt = (
            select(c.locker_id, c.code)
            .where(c.door == DoorState.JAMMED)
            .order_by(c.locker_id, c.code)
            .limit(200)
        )
        async with self._store.engine.connect() as conn:
            return [(locker_id, code) for locker_id, code in (await conn.execute(stmt)).all()]

    async def alarmed_doors(self) -> list[AlarmedDoor]:
        """Every compartment whose temperature alarm is raised now (cold doors out of range)."""
        c = compartments.c
        stmt = (
            select(c.locker_id, c.code, c.temperature_class, c.temperature_c, c.temperature_at)
            .where(c.temperature_alarm.is_(True))
            .order_by(c.locker_id, c.code)
            .limit(200)
        )
        async with self._store.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [AlarmedDoor(lid, code, str(kind), t, at) for lid, code, kind, t, at in rows]

    async def open_rounds(self, locker_id: str, now: datetime) -> list[OpenRound]:
        """The locker's courier sessions whose code still works, oldest first: one query for
        the sessions (the `(locker_id, code_hash)` index), one for their doors opened."""
        s, d = courier_sessions.c, courier_session_doors.c
        async with self._store.engine.connect() as conn:
            found = (
                await conn.execute(
                    select(s.id, s.carrier_id, s.courier_ref, s.opened_at, s.expires_at)
                    .where(s.locker_id == locker_id, s.closed_at.is_(None), s.expires_at > now)
                    .order_by(s.opened_at, s.id)
                    .limit(50)
                )
            ).all()
            ids = [row[0] for row in found]
            opened: dict[str, int] = {}
            if ids:
                counts = await conn.execute(
                    select(d.session_id, func.count())
                    .where(d.session_id.in_(ids))
                    .group_by(d.session_id)
                )
                opened = {sid: int(n) for sid, n in counts.all()}
        return [
            OpenRound(sid, carrier, ref, since, until, opened.get(sid, 0))
            for sid, carrier, ref, since, until in found
        ]

    async def grid_prints(self, locker_ids: Iterable[str]) -> dict[str, GridPrint]:
        """The fingerprint of each locker's grid: two indexed queries for all of them."""
        ids = sorted(set(locker_ids))
        if not ids:
            return {}
        c = compartments.c
        cells: dict[str, list[CellPrint]] = {locker_id: [] for locker_id in ids}
        online: dict[str, bool] = {}
        async with self._store.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    c.locker_id,
                    c.code,
                    c.state,
                    c.door,
                    c.item_sensor,
                    c.parcel_uid,
                    c.temperature_alarm,
                )
                .where(c.locker_id.in_(ids))
                .order_by(c.locker_id, c.code)
            )
            for locker_id, code, state, door, item, uid, alarm in rows.all():
                cells[locker_id].append((code, str(state), str(door), str(item), uid, bool(alarm)))
            s = locker_sessions.c
            presence = await conn.execute(select(s.locker_id, s.online).where(s.locker_id.in_(ids)))
            online = {locker_id: bool(up) for locker_id, up in presence.all()}
        return {
            locker_id: GridPrint(online.get(locker_id, False), tuple(cells[locker_id]))
            for locker_id in ids
        }

    async def delivery_lag(self) -> list[TargetLag]:
        """Every delivery target with rows by state (and how many pending rows failed at
        least once) and its oldest pending row."""
        o = outbox.c
        keys = (o.target_kind, o.target_id, o.carrier_id)
        async with self._store.engine.connect() as conn:
            counts = await conn.execute(
                select(*keys, o.state, func.count()).group_by(*keys, o.state)
            )
            failing = await conn.execute(
                select(*keys, func.count())
                .where(and_(o.state == DeliveryState.PENDING, o.attempts > 0))
                .group_by(*keys)
            )
            by_target: dict[tuple[str, str, str], dict[str, int]] = defaultdict(dict)
            for kind, target, carrier, state, n in counts.all():
                by_target[(str(kind), target, carrier)][str(state)] = int(n)
            retrying = {(str(k), t, c): int(n) for k, t, c, n in failing.all()}
            first = await conn.execute(
                select(*keys, func.min(o.created_at))
                .where(o.state == DeliveryState.PENDING)
                .group_by(*keys)
            )
            pending = {(str(k), t, c): at for k, t, c, at in first.all()}
        for key, n in retrying.items():
            by_target[key][RETRYING] = n
        return [
            TargetLag(kind, target, carrier, states, pending.get((kind, target, carrier)))
            for (kind, target, carrier), states in sorted(by_target.items())
        ]

    async def report(self, days: int = REPORT_DAYS) -> Report:
        now = self._clock()
        since = now - timedelta(days=days)
        report = Report(days=days, since=since)
        p, e = parcels.c, parcel_events.c
        async with self._store.engine.connect() as conn:
            volumes = await conn.execute(
                select(p.carrier_id, func.count())
                .where(p.created_at >= since)
                .group_by(p.carrier_id)
                .order_by(func.count().desc(), p.carrier_id)
            )
            report.volumes = {carrier: int(n) for carrier, n in volumes.all()}
            moves = await conn.execute(
                select(e.parcel_uid, e.to_state, e.at)
                .where(
                    and_(
                        e.at >= since,
                        e.to_state.in_([ParcelState.READY_FOR_PICKUP, ParcelState.PICKED_UP]),
                    )
                )
                # In time order: the range read of ix_parcel_events_at (migration 0022)
                # needs no sort (ordered by id, SQLite scans the whole table instead).
                .order_by(e.at, e.id)
                .limit(MAX_REPORT_ROWS + 1)
            )
            rows = moves.all()
        report.truncated = len(rows) > MAX_REPORT_ROWS
        deposited: dict[str, datetime] = {}
        dwell: list[timedelta] = []
        for uid, state, at in rows[:MAX_REPORT_ROWS]:
            if state == ParcelState.READY_FOR_PICKUP:
                deposited[uid] = at
                report.deposits_by_hour[at.hour] += 1
            else:
                report.pickups_by_hour[at.hour] += 1
                if uid in deposited:
                    dwell.append(at - deposited[uid])
        report.dwell = _buckets(dwell)
        report.dwell_median = sorted(dwell)[len(dwell) // 2] if dwell else None
        return report

    async def audit_page(self, before: int | None, size: int) -> AuditPage:
        """`size` entries below position `before` (None: from the head), newest first.

        Positions are contiguous (a gap is a deleted row, which verification reports), so a
        page is a position range: stable while new entries arrive above it.
        """
        async with self._store.transaction() as tx:
            head = await tx.audit.head()
            top = 0 if head is None else head.position
            below = top + 1 if before is None else max(1, min(before, top + 1))
            start = max(0, below - 1 - size)
            rows = await tx.audit.page(after=start, limit=max(0, below - 1 - start))
        rows.reverse()
        older = start + 1 if start > 0 else None
        newer = None if below > top else min(below + size, top + 1)
        return AuditPage(rows, top, older, newer)


def _buckets(dwell: list[timedelta]) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for spent in dwell:
        for bound, words in DWELL_BUCKETS:
            if spent < bound:
                counts[words] += 1
                break
    return [(words, counts[words]) for _, words in DWELL_BUCKETS]
