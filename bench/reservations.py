"""Benchmark: reservations per second through the whole HTTP stack, on SQLite and PostgreSQL.

Prints, per database, the bare HTTP round trip (GET /healthz, the floor of any request) beside
booking throughput, so the cost of auth + validation + one allocation transaction is visible.
Usage: python -m bench.reservations [--bookings 2000] [--concurrency 32] [--only sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx

from gateway.app import Gateway
from gateway.client import nodelay_transport
from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from gateway.settings import Settings
from tests.support.carriers import TestCarrier

NETWORK = "bench-net"
T = TypeVar("T")
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    name = f"openlocker_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def run_pool(
    concurrency: int, jobs: list[T], work: Callable[[T], Awaitable[None]]
) -> tuple[float, list[float]]:
    queue: asyncio.Queue[T] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    latencies: list[float] = []

    async def worker() -> None:
        while not queue.empty():
            job = queue.get_nowait()
            start = time.perf_counter()
            await work(job)
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began, latencies


def describe(label: str, count: int, elapsed: float, latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"  {label:<28} {count / elapsed:8.0f}/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms"


async def bench(kind: str, bookings: int, concurrency: int) -> None:
    carrier = TestCarrier.ed25519("bench", NETWORK)
    async with database(kind) as url:
        settings = Settings(database_url=url, http_port=0, network_id=NETWORK)
        async with Gateway(settings=settings) as gateway:
            await gateway.carriers.register("bench", carrier.jwks)
            spec = STANDARD_SIZES[SizeClass.S]
            doors = [
                Compartment("BENCH-1", f"C{n:05d}", SizeClass.S, spec.inside, spec.max_weight_g)
                for n in range(bookings)
            ]
            await gateway.lockers.provision(Locker("BENCH-1", "Bench", Location(0, 0)), doors)
            limits = httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            )
            async with httpx.AsyncClient(
                base_url=gateway.base_url,
                timeout=60,
                transport=nodelay_transport(limits),
            ) as client:

                async def health(_: int) -> None:
                    (await client.get("/healthz")).raise_for_status()

                async def book(headers: dict[str, str]) -> None:
                    n = uuid.uuid4().hex[:16]
                    body = {"parcelId": f"B-{n}", "lockerId": "BENCH-1", "sizeClass": "S"}
                    r = await client.post("/v1/parcels", json=body, headers=headers)
                    if r.status_code != 201:
                        raise RuntimeError(r.text)

                # Tokens are minted before timing: signing is the carrier's cost, not ours.
                headers = [
                    carrier.auth() | {"Idempotency-Key": f"bench-{n:08d}"} for n in range(bookings)
                ]
                h_elapsed, h_lat = await run_pool(concurrency, list(range(bookings)), health)
                b_elapsed, b_lat = await run_pool(concurrency, headers, book)
    print(f"{kind} (concurrency {concurrency}, {bookings} requests each)")
    print(describe("bare HTTP GET /healthz", bookings, h_elapsed, h_lat))
    print(describe("reservations (POST /v1/parcels)", bookings, b_elapsed, b_lat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    for kind in [args.only] if args.only else ["sqlite", "postgresql"]:
        asyncio.run(bench(kind, args.bookings, args.concurrency))


if __name__ == "__main__":
    main()
