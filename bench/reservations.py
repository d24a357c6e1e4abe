"""Benchmark: reservations per second through the whole HTTP stack, on SQLite and PostgreSQL.

The gateway runs in this process; the carrier (the load generator) runs in a process of its
own, as a carrier's systems would, so its HTTP client and token signing do not share the
gateway's event loop. Per database the bench prints:
  - the bare HTTP round trip (GET /healthz), the floor of any request from that client,
  - reservations (POST /v1/parcels: auth, validation, allocation, idempotency, outbox),
  - the raw transaction rate of the same database for the same rows (bench.raw_limits), with
    the goal: reservations/s >= 50 % of it;
  - per phase, the CPU time per request of the gateway's process (all its threads: the event
    loop, SQLite's thread) and of the load generator's: on a 2-core host the two share the
    cores, and a phase whose load generator spends a core's worth (~1 s of CPU per second)
    measures the client, not the gateway (the bare GET /healthz does, with httpx).
Usage: python -m bench.reservations [--bookings 1000] [--concurrency 32] [--only sqlite]
       [--event-loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from bench.raw_limits import raw_bookings
from bench.support import (
    GATEWAY_NETWORK,
    bench_settings,
    database,
    event_loop_choice,
    percentiles,
    run,
)
from gateway.app import Gateway
from gateway.client import nodelay_transport
from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from tests.support.carriers import TestCarrier

LOCKER = "BENCH-1"
GOAL = 0.5  # reservations/s against the raw transaction rate
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Phase:
    """A timed phase of the load generator: how long it took, each request's latency, and the
    CPU seconds the gateway's process and the load generator's spent in it."""

    count: int
    elapsed_s: float
    latencies: list[float]
    gateway_cpu_s: float
    client_cpu_s: float

    def line(self, label: str) -> str:
        p50, p99 = percentiles(self.latencies)
        return (
            f"  {label:<34} {self.count / self.elapsed_s:8.0f}/s   "
            f"p50 {p50 * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms\n"
            f"  {'':<34} CPU per request: gateway {self.gateway_cpu_s / self.count * 1000:.2f} ms, "
            f"load generator {self.client_cpu_s / self.count * 1000:.2f} ms "
            f"({self.client_cpu_s / self.elapsed_s:.2f} s/s)"
        )


# ---- the load generator (its own process) -------------------------------------------------


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


async def next_phase(name: str) -> float:
    """Tell the gateway's side a phase starts (it reads its CPU clock), wait for its go-ahead;
    returns this process's CPU clock at the start."""
    print(json.dumps({"phase": name}), flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    return time.process_time()


async def load_generator(bookings: int, concurrency: int) -> None:
    """The carrier: prints its JWKS, reads the gateway's URL, books, prints the timings."""
    carrier = TestCarrier.ed25519("bench", GATEWAY_NETWORK)
    print(json.dumps({"jwks": carrier.jwks}), flush=True)
    base_url = (await asyncio.to_thread(sys.stdin.readline)).strip()
    # Tokens are minted before timing: signing is the carrier's cost, not the gateway's.
    headers = [carrier.auth() | {"Idempotency-Key": f"bench-{n:08d}"} for n in range(bookings)]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=60, transport=nodelay_transport(limits)
    ) as client:

        async def health(_: int) -> None:
            (await client.get("/healthz")).raise_for_status()

        async def book(job: tuple[int, dict[str, str]]) -> None:
            n, auth = job
            body = {"parcelId": f"B-{n:08d}", "lockerId": LOCKER, "sizeClass": "S"}
            response = await client.post("/v1/parcels", json=body, headers=auth)
            if response.status_code != 201:
                raise RuntimeError(response.text)

        cpu = await next_phase("health")
        h_elapsed, h_latencies = await run_pool(concurrency, list(range(bookings)), health)
        h_cpu = time.process_time() - cpu
        cpu = await next_phase("bookings")
        b_elapsed, b_latencies = await run_pool(concurrency, list(enumerate(headers)), book)
        b_cpu = time.process_time() - cpu
    result = {
        "health": [h_elapsed, h_latencies, h_cpu],
        "bookings": [b_elapsed, b_latencies, b_cpu],
    }
    print(json.dumps(result), flush=True)


# ---- the gateway side (this process) ------------------------------------------------------


async def through_gateway(
    kind: str, bookings: int, concurrency: int, event_loop: str
) -> tuple[Phase, Phase]:
    async with database(kind) as url, Gateway(settings=bench_settings(url)) as gateway:
        spec = STANDARD_SIZES[SizeClass.S]
        doors = [
            Compartment(LOCKER, f"C{n:05d}", SizeClass.S, spec.inside, spec.max_weight_g)
            for n in range(bookings)
        ]
        await gateway.lockers.provision(Locker(LOCKER, "Bench", Location(0, 0)), doors)
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.reservations",
            "--load-generator",
            f"--bookings={bookings}",
            f"--concurrency={concurrency}",
            f"--event-loop={event_loop}",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            hello: dict[str, Any] = json.loads(await child.stdout.readline())
            await gateway.carriers.register("bench", hello["jwks"])
            child.stdin.write(f"{gateway.base_url}\n".encode())
            await child.stdin.drain()
            # Each phase starts when the load generator says so: the gateway's CPU clock (this
            # process, every thread) is read at each start and at the results.
            cpu: list[float] = []
            while True:
                line = await child.stdout.readline()
                if not line:
                    raise RuntimeError("the load generator ended without results (see its stderr)")
                cpu.append(time.process_time())
                message: dict[str, Any] = json.loads(line)
                if "phase" not in message:
                    break
                child.stdin.write(b"go\n")
                await child.stdin.drain()
            result = message
        finally:
            if child.returncode is None:
                await child.wait()
    health_cpu, booking_cpu = cpu[1] - cpu[0], cpu[2] - cpu[1]
    h_elapsed, h_latencies, h_client_cpu = result["health"]
    b_elapsed, b_latencies, b_client_cpu = result["bookings"]
    health = Phase(bookings, h_elapsed, h_latencies, health_cpu, h_client_cpu)
    booked = Phase(bookings, b_elapsed, b_latencies, booking_cpu, b_client_cpu)
    return health, booked


async def bench(kind: str, bookings: int, concurrency: int, event_loop: str) -> None:
    health, booked = await through_gateway(kind, bookings, concurrency, event_loop)
    async with database(kind) as url:
        raw = await raw_bookings(url, bookings, concurrency)
    ratio = booked.count / booked.elapsed_s / raw.per_s
    verdict = "meets" if ratio >= GOAL else "misses"
    print(
        f"{kind} (concurrency {concurrency}, {bookings} requests each, event loop {event_loop}, "
        "load generator in its own process)"
    )
    print(health.line("bare HTTP GET /healthz"))
    print(booked.line("reservations (POST /v1/parcels)"))
    print(f"  {'raw booking transactions':<34} {raw.per_s:8.0f}/s   (bench.raw_limits)")
    print(
        f"  reservations / raw = {ratio:.0%}   goal >= {GOAL:.0%}: {verdict}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument("--load-generator", action="store_true", help=argparse.SUPPRESS)
    event_loop_choice(parser)
    args = parser.parse_args()
    if args.load_generator:
        run(load_generator(args.bookings, args.concurrency), args.event_loop)
        return
    for kind in [args.only] if args.only else ["sqlite", "postgresql"]:
        run(bench(kind, args.bookings, args.concurrency, args.event_loop), args.event_loop)


if __name__ == "__main__":
    main()
