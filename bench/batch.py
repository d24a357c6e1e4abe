"""Benchmark: batch pre-advice (`POST /v1/parcels:batch`) against single bookings, per database.

Books the same number of parcels once as batches of `--size` and once one `POST /v1/parcels`
at a time (sequentially, one client), and prints parcels/s and the latency of one full batch:
what a carrier's nightly pre-advice saves, and how long one batch holds its transaction.
Usage: python -m bench.batch [--parcels 1000] [--size 200] [--only sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx

from bench.support import GATEWAY_NETWORK, bench_settings, database, provision_s_locker
from gateway.app import Gateway
from gateway.client import nodelay_transport
from tests.support.carriers import TestCarrier

LOCKER = "BENCH-1"


async def _bench(kind: str, parcels: int, size: int) -> None:
    carrier = TestCarrier.ed25519("acme", GATEWAY_NETWORK)
    async with database(kind) as url, Gateway(settings=bench_settings(url)) as gateway:
        await gateway.carriers.register("acme", carrier.jwks, "ACME")
        await provision_s_locker(gateway, LOCKER, 2 * parcels)
        async with httpx.AsyncClient(
            base_url=gateway.base_url, timeout=120, transport=nodelay_transport()
        ) as http:

            def entry(prefix: str, n: int) -> dict[str, str]:
                return {"parcelId": f"{prefix}-{n}", "lockerId": LOCKER, "sizeClass": "S"}

            def headers() -> dict[str, str]:
                return carrier.auth() | {"Idempotency-Key": uuid.uuid4().hex}

            batch_times: list[float] = []
            start = time.perf_counter()
            for first in range(0, parcels, size):
                body = {"parcels": [entry("B", n) for n in range(first, first + size)]}
                t0 = time.perf_counter()
                answer = await http.post("/v1/parcels:batch", json=body, headers=headers())
                batch_times.append(time.perf_counter() - t0)
                assert answer.status_code == 200, answer.text
                assert answer.json()["refused"] == 0, answer.text
            batched = time.perf_counter() - start
            start = time.perf_counter()
            for n in range(parcels):
                answer = await http.post("/v1/parcels", json=entry("S", n), headers=headers())
                assert answer.status_code == 201, answer.text
            single = time.perf_counter() - start
    print(f"{kind}: {parcels} parcels")
    print(
        f"  batches of {size:<4} {parcels / batched:8.0f} parcels/s   "
        f"one batch {1000 * min(batch_times):5.0f}..{1000 * max(batch_times):.0f} ms"
    )
    print(f"  one at a time   {parcels / single:8.0f} parcels/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=1000)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    for kind in [args.only] if args.only else ["sqlite", "postgresql"]:
        asyncio.run(_bench(kind, args.parcels, args.size))


if __name__ == "__main__":
    main()
