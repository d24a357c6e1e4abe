"""SQL statements and transactions per remote open and per lifecycle (`bench.sql_counts --flow`).

`open` counts the remote open request and the locker's DoorOpened that follows it (the
booking before it is not counted); `lifecycle` counts the booking, the remote open, the
deposit's DoorClosed, the pickup's remote open and the take's DoorClosed. Each step waits for
the state through a second engine the hooks do not see, then for the gateway to go quiet, so
no poll and no background loop is counted (bench/door_transactions.py's Counter). Prints
medians.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from locker_emulator.bank import EmulatorBank
from locker_emulator.layout import CompartmentConfig, LockerConfig

from bench.door_transactions import Counter
from bench.support import GATEWAY_NETWORK, bench_settings, database
from gateway.app import Gateway
from gateway.client import nodelay_transport
from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from gateway.store import Store
from tests.support.carriers import TestCarrier
from tests.support.mosquitto import Mosquitto, free_port

LOCKER = "SQL-1"
QUIET_S = 0.3  # no statement for this long: the gateway is done with the step


async def count_flow(kind: str, flow: str, parcels: int, show: bool) -> None:
    carrier = TestCarrier.ed25519("bench", GATEWAY_NETWORK)
    spec = STANDARD_SIZES[SizeClass.S]
    doors = [
        Compartment(LOCKER, f"C{n:03d}", SizeClass.S, spec.inside, spec.max_weight_g)
        for n in range(parcels)
    ]
    hardware = [
        LockerConfig(
            locker_id=LOCKER, compartments=tuple(CompartmentConfig(d.code, "S") for d in doors)
        )
    ]
    samples: list[tuple[int, int]] = []
    last: list[str] = []
    counter = Counter()
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "mqtt") as broker:
        async with (
            database(kind) as url,
            Gateway(
                settings=bench_settings(url, mqtt={"url": broker.url, "embedded_port": free_port()})
            ) as gateway,
        ):
            await gateway.carriers.register("bench", carrier.jwks)
            await gateway.lockers.provision(Locker(LOCKER, "Bench", Location(0, 0)), doors)
            async with (
                Store.connect(url) as reader,
                EmulatorBank(
                    mqtt_url=broker.url, lockers=hardware, root_key=gateway.root_key.public_jwk
                ) as bank,
                httpx.AsyncClient(
                    base_url=gateway.base_url, timeout=30, transport=nodelay_transport()
                ) as http,
            ):
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                locker = bank[LOCKER]
                counter.engine = gateway.store.engine.sync_engine

                async def post(path: str, body: object) -> dict[str, Any]:
                    headers = carrier.auth() | {"Idempotency-Key": uuid.uuid4().hex}
                    response = await http.post(path, json=body, headers=headers)
                    response.raise_for_status()
                    answer: dict[str, Any] = response.json()
                    return answer

                async def state(pid: str) -> str:
                    async with reader.transaction() as tx:
                        parcel = await tx.parcels.get("bench", pid)
                    return "" if parcel is None else str(parcel.state)

                async def until(pid: str, wanted: str) -> None:
                    async with asyncio.timeout(15):
                        while await state(pid) != wanted:  # noqa: ASYNC110
                            await asyncio.sleep(0.01)

                async def quiet() -> None:
                    mark, since = counter.mark(), time.monotonic()
                    while time.monotonic() - since < QUIET_S:
                        await asyncio.sleep(0.02)
                        if counter.mark() != mark:
                            mark, since = counter.mark(), time.monotonic()

                for n in range(parcels):
                    pid = f"SQL-{n:04d}"
                    body = {"parcelId": pid, "lockerId": LOCKER, "sizeClass": "S"}
                    before = counter.mark()
                    door = str((await post("/v1/parcels", body))["compartmentCode"])
                    if flow == "open":  # the booking is not part of an open
                        await quiet()
                        before = counter.mark()
                    await post(f"/v1/parcels/{pid}/open", {})
                    await asyncio.wait_for(locker.wait_door(door, "open"), 10)
                    if flow == "lifecycle":
                        locker.deposit(door)
                        await until(pid, "ready_for_pickup")
                        await quiet()
                        await post(f"/v1/parcels/{pid}/open", {})
                        await asyncio.wait_for(locker.wait_door(door, "open"), 10)
                        locker.take(door)
                        await until(pid, "picked_up")
                    await quiet()
                    after = counter.mark()
                    samples.append((after[0] - before[0], after[1] - before[1]))
                    last = counter.statements[before[1] : after[1]]
    # The first parcels warm caches (carrier keys, audit head): report the steady state.
    steady = samples[len(samples) // 2 :]
    transactions = statistics.median(s[0] for s in steady)
    statements = statistics.median(s[1] for s in steady)
    what = "remote open + DoorOpened" if flow == "open" else "lifecycle (book to pickup)"
    print(f"{kind}: {what} (median of the last {len(steady)} of {parcels})")
    print(f"  SQL statements      {statements:5.1f}")
    print(f"  transactions        {transactions:5.1f}")
    if show:
        for statement in last:
            print(f"    {statement[:160]}")
