"""Network-wide figures read from the database at scrape time: lockers, compartments, parcels,
the outbox, parked events.

Computed when /metrics is scraped, not by a periodic refresh: a handful of counts over
indexed columns per scrape (every 15-60 s) costs less than a loop that queries whether anyone
scrapes or not, and a scrape never shows figures older than `max_age_s`. The cache bounds the
cost when several scrapers (or a too-eager one) ask at once. Only what is *live* is counted:
parcels outside the terminal states, outbox rows pending or dead. History (picked-up parcels,
delivered rows) grows without bound, and counting it on every scrape cost 0.1-0.35 s at 200,000
rows (bench/metrics_figures.py); the live rows are bounded by the compartments and the backlog.

Every instance serves the same figures, read from the shared database: sum them across
instances and you count each thing once per instance; take `max` (or scrape one instance).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from gateway.clock import Clock, utc_now
from gateway.domain.enums import CompartmentState, ParcelState
from gateway.domain.parcel import TERMINAL_STATES
from gateway.domain.webhooks import DeliveryState
from gateway.store import Store
from gateway.store.tables import compartments, locker_sessions, lockers, outbox, parcels
from gateway.store.tables import parked_events as parked

log = logging.getLogger(__name__)
LIVE_PARCELS = [state for state in ParcelState if state not in TERMINAL_STATES]
LIVE_OUTBOX = [DeliveryState.PENDING, DeliveryState.DEAD]
NETWORK_WIDE = " Network-wide, from the database: every instance reports the same figure."


@dataclass(slots=True)
class Figures:
    lockers: int = 0
    lockers_online: int = 0
    compartments: dict[str, int] = field(default_factory=dict)
    parcels: dict[str, int] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    oldest_pending: datetime | None = None
    parked_events: int = 0


class NetworkFigures(Collector):
    """`await refresh()` before each exposition; `collect()` yields what it read."""

    def __init__(
        self,
        *,
        store: Store,
        max_age_s: float = 5.0,
        timeout_s: float = 5.0,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._max_age_s = max_age_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._figures: Figures | None = None
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self) -> bool:
        """Read the figures unless they are fresh; False (and the last ones gone) on failure."""
        async with self._lock:  # concurrent scrapes share one read
            if time.monotonic() - self._read_at < self._max_age_s and self._figures is not None:
                return True
            try:
                async with asyncio.timeout(self._timeout_s):
                    self._figures = await self._read()
            except Exception as err:
                # A scrape must still answer (process metrics, counters); the figures are left
                # out rather than shown stale, and openlocker_database_figures_up says why.
                log.warning("metrics: database figures unavailable: %s", type(err).__name__)
                self._figures = None
                self._read_at = float("-inf")
                return False
            self._read_at = time.monotonic()
            return True

    async def _read(self) -> Figures:
        # A plain read connection, not `store.transaction()`: on SQLite that takes the write
        # lock (BEGIN IMMEDIATE), which a scrape has no business holding.
        f = Figures()
        async with self._store.engine.connect() as conn:
            f.lockers = (await conn.execute(select(func.count()).select_from(lockers))).scalar_one()
            f.lockers_online = (
                await conn.execute(
                    select(func.count())
                    .select_from(locker_sessions)
                    .where(locker_sessions.c.online.is_(True))
                )
            ).scalar_one()
            for table, states, into in (
                (compartments, list(CompartmentState), f.compartments),
                (parcels, LIVE_PARCELS, f.parcels),
                (outbox, LIVE_OUTBOX, f.outbox),
            ):
                # `state IN (...)`: an index range per state, never the table's history.
                rows = await conn.execute(
                    select(table.c.state, func.count())
                    .where(table.c.state.in_(states))
                    .group_by(table.c.state)
                )
                into.update({str(state): int(n) for state, n in rows.all()})
            f.oldest_pending = (
                await conn.execute(
                    select(func.min(outbox.c.created_at)).where(
                        outbox.c.state == DeliveryState.PENDING
                    )
                )
            ).scalar_one()
            f.parked_events = (
                await conn.execute(select(func.count()).select_from(parked))
            ).scalar_one()
        return f

    def collect(self) -> Iterator[Metric]:
        f = self._figures
        if f is None:
            return
        yield _gauge("openlocker_lockers", "Lockers provisioned.", f.lockers)
        yield _gauge(
            "openlocker_lockers_online", "Lockers whose last presence report is online.",
            f.lockers_online,
        )  # fmt: skip
        yield _by_state(
            "openlocker_compartments",
            "Compartments by state.",
            list(CompartmentState),
            f.compartments,
        )
        yield _by_state(
            "openlocker_parcels",
            "Parcels by state, terminal states (history) left out.",
            LIVE_PARCELS,
            f.parcels,
        )
        yield _by_state(
            "openlocker_outbox_deliveries",
            "Outbox rows pending (the outbox depth) or dead (dead letters not yet purged).",
            LIVE_OUTBOX,
            f.outbox,
        )
        age = 0.0
        if f.oldest_pending is not None:
            age = max(0.0, (self._clock() - f.oldest_pending).total_seconds())
        yield _gauge(
            "openlocker_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox row (0 when none is pending).",
            age,
        )
        yield _gauge(
            "openlocker_parked_events",
            "Locker events parked after failing to apply (`openlocker events parked`).",
            f.parked_events,
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation + NETWORK_WIDE, value=value)


def _by_state(
    name: str, documentation: str, states: Sequence[StrEnum], counts: dict[str, int]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation + NETWORK_WIDE, labels=["state"])
    # Every state, 0 included: a series that vanishes is not the same as one at zero.
    for state in states:
        family.add_metric([state.value], counts.get(state.value, 0))
    return family
