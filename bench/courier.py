"""Benchmark: a courier's round at a big locker bank, per database.

Books `--parcels` parcels at one locker (one batch per 200), deposits half of them and lets
their pickup window run out (so a round has `--parcels`/2 deposits and as many collections),
then prints how long the collection manifest takes (one locker, and a route of `--lockers`
lockers), opening a session, and each keypad entry of the session code (what a courier waits
for at the door before it opens, without the unlock itself), first and last of the round.
Usage: python -m bench.courier [--parcels 200] [--lockers 10] [--only sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

import httpx

from bench.support import (
    GATEWAY_NETWORK,
    bench_settings,
    database,
    percentiles,
    provision_s_locker,
)
from gateway.app import Gateway
from gateway.client import nodelay_transport
from gateway.domain.enums import ParcelAction
from gateway.service.courier_sessions import CourierSessions
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock

BATCH = 200


async def _bench(kind: str, parcels: int, lockers: int) -> None:
    carrier = TestCarrier.ed25519("acme", GATEWAY_NETWORK)
    clock = MovableClock()
    async with (
        database(kind) as url,
        Gateway(settings=bench_settings(url), clock=clock) as gateway,
    ):
        await gateway.carriers.register("acme", carrier.jwks, "ACME")
        ids = [f"BENCH-{n}" for n in range(lockers)]
        for locker_id in ids:
            await provision_s_locker(gateway, locker_id, parcels)
        locker = ids[0]
        async with httpx.AsyncClient(
            base_url=gateway.base_url, timeout=120, transport=nodelay_transport()
        ) as http:

            def headers() -> dict[str, str]:
                auth = carrier.auth(iat=clock().timestamp())
                return auth | {"Idempotency-Key": uuid.uuid4().hex}

            async def book(prefix: str, count: int) -> None:
                for first in range(0, count, BATCH):
                    body = {
                        "parcels": [
                            {"parcelId": f"{prefix}-{n}", "lockerId": locker, "sizeClass": "S"}
                            for n in range(first, min(count, first + BATCH))
                        ]
                    }
                    answer = await http.post("/v1/parcels:batch", json=body, headers=headers())
                    assert answer.status_code == 200, answer.text
                    assert answer.json()["refused"] == 0, answer.text

            half = parcels // 2
            await book("OLD", half)
            for n in range(half):
                found = await gateway.parcels.get("acme", f"OLD-{n}")
                await gateway.parcels.apply_action(found.uid, ParcelAction.DEPOSIT)
            clock.advance(73 * 3600)
            while await gateway.parcels.expire_due(limit=500):
                pass
            await book("NEW", half)

            async def timed_get(lockers: list[str]) -> tuple[float, int]:
                params = httpx.QueryParams([("lockerId", locker_id) for locker_id in lockers])
                t0 = time.perf_counter()
                answer = await http.get("/v1/collection-manifest", params=params, headers=headers())
                took = time.perf_counter() - t0
                assert answer.status_code == 200, answer.text
                return took, int(answer.json()["count"])

            one = [await timed_get([locker]) for _ in range(5)]
            route = [await timed_get(ids) for _ in range(5)]
            t0 = time.perf_counter()
            opened = await http.post(
                "/v1/courier-sessions", json={"lockerId": locker}, headers=headers()
            )
            open_s = time.perf_counter() - t0
            assert opened.status_code == 201, opened.text
            code = opened.json()["code"]
            rounds = CourierSessions(store=gateway.store, codes=gateway.codes, clock=clock)
            entries: list[float] = []
            while True:
                t0 = time.perf_counter()
                async with gateway.store.transaction() as tx:
                    door = await rounds.next_door(tx, locker, code)
                entries.append(time.perf_counter() - t0)
                assert door is not None
                if door.parcel is None:
                    break
    listed = one[0][1]
    p50, p99 = percentiles([t for t, _ in one])
    r50, r99 = percentiles([t for t, _ in route])
    e50, e99 = percentiles(entries)
    print(f"{kind}: one locker with {half} deposits and {listed} parcels to collect")
    print(f"  manifest, {'one locker':<19} p50 {1000 * p50:6.1f} ms  p99 {1000 * p99:6.1f} ms")
    label = f"route of {lockers} lockers"
    print(f"  manifest, {label:<19} p50 {1000 * r50:6.1f} ms  p99 {1000 * r99:6.1f} ms")
    print(f"  open a session               {1000 * open_s:6.1f} ms")
    print(
        f"  keypad entry decision, {len(entries) - 1} doors: first {1000 * entries[0]:5.1f} ms, "
        f"last {1000 * entries[-2]:5.1f} ms, p50 {1000 * e50:5.1f} ms, p99 {1000 * e99:5.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parcels", type=int, default=200)
    parser.add_argument("--lockers", type=int, default=10)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    for kind in [args.only] if args.only else ["sqlite", "postgresql"]:
        asyncio.run(_bench(kind, args.parcels, args.lockers))


if __name__ == "__main__":
    main()
