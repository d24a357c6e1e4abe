"""Benchmark: how long a carrier waits for a remote open that cannot succeed.

The tests assert what the answer is (504 Timeout for a locker that answers after the
command's `exp`, 503 Unavailable for a locker the gateway holds offline) and that no door
opens; how long the answer takes is a figure, measured here beside its bound:
  - slow locker: the open timeout (`[lockers] open_timeout`, 3 s here) plus the adapter's
    margin; goal: the 504 within open_timeout + 1 s,
  - offline locker: no command is sent at all; goal: p99 under 100 ms.
A private Mosquitto, the gateway on SQLite and the emulated locker, all in this process.
Usage: python -m bench.open_timeouts [--opens 20]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
from locker_emulator.bank import EmulatorBank

from bench.support import percentiles
from gateway.app import Gateway
from tests.e2e.conftest import FAST, LOCKER, emulated_lockers
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.mosquitto import Mosquitto

OPEN_TIMEOUT_S = 3.0


async def _book(client: httpx.AsyncClient, carrier: TestCarrier, parcel_id: str) -> None:
    body = {"parcelId": parcel_id, "lockerId": LOCKER, "sizeClass": "S"}
    headers = carrier.auth() | {"Idempotency-Key": f"book-{parcel_id}"}
    response = await client.post("/v1/parcels", json=body, headers=headers)
    response.raise_for_status()


async def _open(
    client: httpx.AsyncClient, carrier: TestCarrier, parcel_id: str
) -> tuple[int, float]:
    headers = carrier.auth() | {"Idempotency-Key": f"open-{parcel_id}-{time.monotonic_ns()}"}
    started = time.perf_counter()
    response = await client.post(f"/v1/parcels/{parcel_id}/open", json={}, headers=headers)
    return response.status_code, time.perf_counter() - started


async def main(opens: int) -> int:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        with Mosquitto(Path(tmp) / "mqtt") as broker:
            settings = settings_for(url, mqtt_url=broker.url, open_timeout_s=OPEN_TIMEOUT_S)
            async with Gateway(settings=settings) as gateway:
                await gateway.carriers.register("acme", carrier.jwks)
                await provision(gateway, "waw-central.yaml")
                async with (
                    EmulatorBank(
                        mqtt_url=broker.url, lockers=emulated_lockers(), timing=FAST
                    ) as bank,
                    httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client,
                ):
                    await asyncio.wait_for(bank.wait_all_booted(), 15)
                    locker = bank[LOCKER]
                    await _book(client, carrier, "SLOW-1")
                    locker.update_faults({"slow_replies": OPEN_TIMEOUT_S + 2})
                    status, slow = await _open(client, carrier, "SLOW-1")
                    print(
                        f"slow locker: {status} after {slow:.2f} s "
                        f"(goal: 504 within {OPEN_TIMEOUT_S + 1:.1f} s)"
                    )
                    locker.update_faults({"slow_replies": 0})
                    await _book(client, carrier, "OFF-1")
                    locker.go_offline(3600)
                    while True:  # the will is published; the gateway records it
                        async with gateway.store.transaction() as tx:
                            session = await tx.sessions.get(LOCKER)
                        if session is not None and not session.online:
                            break
                        await asyncio.sleep(0.05)
                    samples, statuses = [], set()
                    for _ in range(opens):
                        status, took = await _open(client, carrier, "OFF-1")
                        statuses.add(status)
                        samples.append(took)
                    p50, p99 = percentiles(samples)
                    print(
                        f"offline locker: {sorted(statuses)} in p50 {p50 * 1000:.1f} ms, "
                        f"p99 {p99 * 1000:.1f} ms over {opens} opens (goal: 503, p99 < 100 ms)"
                    )
                    locker.stop()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opens", type=int, default=20)
    raise SystemExit(asyncio.run(main(parser.parse_args().opens)))
