"""Benchmark: booking bundles (`POST /v1/bundles`) against the same parcels booked one by one.

Books `--bundles` bundles of `--size` parcels each, then as many parcels one `POST /v1/parcels`
at a time (sequentially, one client), and prints parcels/s and the latency of one bundle
(how long its one transaction holds the write lock on SQLite), plus the over-capacity
refusal's latency on a full locker (it tries every parcel before refusing).
Usage: python -m bench.bundles [--bundles 50] [--size 5] [--only sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import httpx

from bench.support import GATEWAY_NETWORK, bench_settings, database, provision_s_locker
from gateway.app import Gateway
from gateway.client import nodelay_transport
from tests.support.carriers import TestCarrier

LOCKER = "BENCH-1"


async def _bench(kind: str, bundles: int, size: int) -> None:
    carrier = TestCarrier.ed25519("acme", GATEWAY_NETWORK)
    parcels = bundles * size
    async with (
        database(kind) as url,
        Gateway(settings=bench_settings(url, mqtt={"embedded_port": 0})) as gateway,
    ):
        await gateway.carriers.register("acme", carrier.jwks, "ACME")
        await provision_s_locker(gateway, LOCKER, 2 * parcels)
        async with httpx.AsyncClient(
            base_url=gateway.base_url, timeout=120, transport=nodelay_transport()
        ) as http:

            def headers() -> dict[str, str]:
                return carrier.auth() | {"Idempotency-Key": uuid.uuid4().hex}

            def bundle(prefix: str, n: int, count: int) -> dict[str, object]:
                items = [{"parcelId": f"{prefix}-{n}-{i}", "sizeClass": "S"} for i in range(count)]
                return {"bundleId": f"{prefix}-{n}", "lockerId": LOCKER, "parcels": items}

            times: list[float] = []
            start = time.perf_counter()
            for n in range(bundles):
                t0 = time.perf_counter()
                answer = await http.post(
                    "/v1/bundles", json=bundle("B", n, size), headers=headers()
                )
                times.append(time.perf_counter() - t0)
                assert answer.status_code == 201, answer.text
            bundled = time.perf_counter() - start
            start = time.perf_counter()
            for n in range(parcels):
                body = {"parcelId": f"S-{n}", "lockerId": LOCKER, "sizeClass": "S"}
                answer = await http.post("/v1/parcels", json=body, headers=headers())
                assert answer.status_code == 201, answer.text
            single = time.perf_counter() - start
            # The locker is full now: a bundle of 20 is refused after trying each parcel.
            refusals: list[float] = []
            for n in range(5):
                t0 = time.perf_counter()
                answer = await http.post("/v1/bundles", json=bundle("F", n, 20), headers=headers())
                refusals.append(time.perf_counter() - t0)
                assert answer.status_code == 409, answer.text
    print(f"{kind}: {bundles} bundles of {size} parcels")
    print(
        f"  bundles         {parcels / bundled:8.0f} parcels/s   one bundle median "
        f"{1000 * statistics.median(times):5.1f} ms, max {1000 * max(times):.1f} ms"
    )
    print(f"  one at a time   {parcels / single:8.0f} parcels/s")
    print(
        f"  over capacity (20 parcels refused) median {1000 * statistics.median(refusals):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=50)
    parser.add_argument("--size", type=int, default=5)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    for kind in [args.only] if args.only else ["sqlite", "postgresql"]:
        asyncio.run(_bench(kind, args.bundles, args.size))


if __name__ == "__main__":
    main()
