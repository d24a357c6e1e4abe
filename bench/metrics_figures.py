"""Benchmark: what one /metrics scrape costs the database (the network-wide figures).

Fills a fresh database with a network's worth of rows (lockers, compartments, parcels: 1 in 20
live, the rest picked up; outbox rows: 1 in 50 pending, the rest delivered) by plain SQL, then
times `NetworkFigures.refresh()` with no cache: the
counts a scrape runs. Printed per database: rows, p50 and p99 of one scrape's read.
Usage: python -m bench.metrics_figures [--parcels 200000] [--only postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from sqlalchemy import insert

from bench.support import database, percentiles
from gateway.domain.enums import CompartmentState, ParcelState
from gateway.domain.webhooks import DeliveryState
from gateway.observability.figures import NetworkFigures
from gateway.store import Store
from gateway.store.tables import compartments, lockers, outbox, parcels

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 5000


async def fill(store: Store, count: int) -> None:
    locker_count = max(1, count // 200)  # ~200 parcels a locker over the retention
    states, cstates = list(ParcelState), list(CompartmentState)
    async with store.engine.begin() as conn:
        await conn.execute(
            insert(lockers),
            [
                {"id": f"L{n}", "name": f"L{n}", "lat": 52.0, "lon": 21.0, "adapter": "olp",
                 "features": [], "created_at": NOW}
                for n in range(locker_count)
            ],
        )  # fmt: skip
        doors = [
            {"locker_id": f"L{n}", "code": f"D{d}", "size_class": "S", "size_rank": 1,
             "width_mm": 1, "height_mm": 1, "depth_mm": 1, "max_weight_g": 1,
             "state": cstates[d % len(cstates)], "door": "closed", "item_sensor": "absent",
             "updated_at": NOW}
            for n in range(locker_count) for d in range(20)
        ]  # fmt: skip
        for start in range(0, len(doors), CHUNK):
            await conn.execute(insert(compartments), doors[start : start + CHUNK])
        for start in range(0, count, CHUNK):
            await conn.execute(
                insert(parcels),
                [
                    {"uid": f"u{n}", "carrier_id": "c", "parcel_id": f"p{n}",
                     "direction": "last_mile", "state": _state(n, states),
                     "locker_id": f"L{n % locker_count}",
                     "pickup_window_s": 1, "reservation_ttl_s": 1, "created_at": NOW,
                     "updated_at": NOW, "version": 1, "last_seq": 1}
                    for n in range(start, min(count, start + CHUNK))
                ],
            )  # fmt: skip
            await conn.execute(
                insert(outbox),
                [
                    {"event_id": f"e{n}", "target_kind": "webhook", "target_id": "w",
                     "carrier_id": "c", "parcel_uid": f"u{n}", "parcel_seq": 1, "type": "t",
                     "body": {}, "attempts": 1, "created_at": NOW, "next_attempt_at": NOW,
                     "state": DeliveryState.PENDING if n % 50 == 0 else DeliveryState.DELIVERED}
                    for n in range(start, min(count, start + CHUNK))
                ],
            )  # fmt: skip


def _state(n: int, states: list[ParcelState]) -> ParcelState:
    """A network some months in: 1 parcel in 20 still live (any state), the rest history."""
    return states[(n // 20) % len(states)] if n % 20 == 0 else ParcelState.PICKED_UP


async def one(kind: str, count: int, scrapes: int) -> None:
    async with database(kind) as url, Store.connect(url) as store:
        await store.migrate()
        await fill(store, count)
        if kind == "postgresql":
            # What autovacuum does on a live database: statistics and the visibility map (an
            # index-only count needs it); a bench right after a bulk load would measure neither.
            conn = await store.engine.connect()
            try:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.exec_driver_sql("VACUUM ANALYZE")
            finally:
                await conn.close()
        figures = NetworkFigures(store=store, max_age_s=0)
        await figures.refresh()  # warm: connection, plans, cache
        times = []
        for _ in range(scrapes):
            started = time.perf_counter()
            assert await figures.refresh()
            times.append(time.perf_counter() - started)
        p50, p99 = percentiles(times)
        print(
            f"  {kind:<10} {count:>8} parcels + {count} outbox rows + {count // 10} compartments:"
            f"  one scrape's figures p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms"
        )


async def main(count: int, only: str | None, scrapes: int) -> None:
    print("Network-wide figures of one /metrics scrape (uncached):")
    for kind in ("sqlite", "postgresql"):
        if only in (None, kind):
            await one(kind, count, scrapes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=200_000)
    parser.add_argument("--scrapes", type=int, default=20)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    asyncio.run(main(args.parcels, args.only, args.scrapes))
