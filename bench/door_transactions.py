"""Database transactions and statements per door transition, counted with SQLAlchemy hooks.

One run starts a private Mosquitto, the gateway and an emulated locker, then for each parcel:
books it (not counted); opens its door over HTTP (counted until the answer: the remote open
with the carrier token check; the locker's DoorOpened may already be in it); counts on until
the gateway is quiet after the DoorOpened ("+DoorOpened": the open and its event); deposits
an item so the locker sends DoorClosed (counted) and waits for ready_for_pickup. The waits
read the parcel through a second engine the hooks do not see, and the gateway's background
pollers are left out, so only the door's own work is counted. Prints medians. Issue 11's goal:
one transaction per event, two per remote open (claim + start; outcome + answer) besides the
carrier token check of the HTTP request itself.
Usage: python -m bench.door_transactions [--parcels 10] [--database sqlite|postgresql] [--show]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from locker_emulator.bank import EmulatorBank
from locker_emulator.layout import CompartmentConfig, LockerConfig
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

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

LOCKER = "TX-1"
# The gateway's own background loops (pollers): their statements are not a door's work.
BACKGROUND = ("housekeeping", "pickup-reminders", "key-distribution", "delivery-engine")


class Counter:
    """Transactions (engine "begin") and statements (before_cursor_execute) as they happen."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.begins = 0
        self.engine: Any = None  # the gateway's: set once it exists
        # On the Engine class, before any engine exists: adding a listener to a running engine
        # races a transaction whose "begin" listeners are being iterated.
        event.listen(Engine, "before_cursor_execute", self._on_execute)
        event.listen(Engine, "begin", self._on_begin)

    def _on_execute(
        self, conn: Connection, _cursor: Any, statement: str, *_args: Any, **_kw: Any
    ) -> None:
        if conn.engine is not self.engine or _in_background():
            return
        text = " ".join(statement.split())
        if not text.upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            self.statements.append(text)

    def _on_begin(self, conn: Connection) -> None:
        if conn.engine is self.engine and not _in_background():
            self.begins += 1

    def mark(self) -> tuple[int, int]:
        return self.begins, len(self.statements)


@dataclass(frozen=True, slots=True)
class CountedSite:
    """A gateway, its emulated locker and a carrier's HTTP client, with statements counted."""

    counter: Counter
    reader: Store  # a second engine the hooks do not see: waits read through it
    locker: Any  # the emulated locker (locker_emulator's EmulatedLocker)
    post: Callable[[str, object], Awaitable[dict[str, Any]]]

    async def state(self, pid: str) -> str:
        async with self.reader.transaction() as tx:
            parcel = await tx.parcels.get("bench", pid)
        return "" if parcel is None else str(parcel.state)


@asynccontextmanager
async def counted_site(kind: str, locker_id: str, parcels: int) -> AsyncIterator[CountedSite]:
    """A private Mosquitto, the gateway on `kind` and one emulated locker of `parcels` S
    compartments, booted; the carrier "bench" registered. Shared by the counting benches."""
    carrier = TestCarrier.ed25519("bench", GATEWAY_NETWORK)
    spec = STANDARD_SIZES[SizeClass.S]
    doors = [
        Compartment(locker_id, f"C{n:03d}", SizeClass.S, spec.inside, spec.max_weight_g)
        for n in range(parcels)
    ]
    hardware = [
        LockerConfig(
            locker_id=locker_id,
            compartments=tuple(CompartmentConfig(d.code, "S") for d in doors),
        )
    ]
    counter = Counter()
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "mqtt") as broker:
        async with (
            database(kind) as url,
            Gateway(
                settings=bench_settings(url, mqtt={"url": broker.url, "embedded_port": free_port()})
            ) as gateway,
        ):
            await gateway.carriers.register("bench", carrier.jwks)
            await gateway.lockers.provision(Locker(locker_id, "Bench", Location(0, 0)), doors)
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
                counter.engine = gateway.store.engine.sync_engine

                async def post(path: str, body: object) -> dict[str, Any]:
                    headers = carrier.auth() | {"Idempotency-Key": uuid.uuid4().hex}
                    response = await http.post(path, json=body, headers=headers)
                    response.raise_for_status()
                    answer: dict[str, Any] = response.json()
                    return answer

                yield CountedSite(counter, reader, bank[locker_id], post)


async def measure(kind: str, parcels: int, show: bool) -> None:
    figures: dict[str, list[tuple[int, int]]] = {
        "POST /open": [],
        "+DoorOpened": [],
        "DoorClosed": [],
    }
    shown: dict[str, list[str]] = {}
    async with counted_site(kind, LOCKER, parcels) as site:
        counter, locker, post = site.counter, site.locker, site.post

        async def settled(since: tuple[int, int], name: str) -> None:
            """Wait until the gateway's statements stop for a moment, then count."""
            last = counter.mark()
            quiet_since = time.monotonic()
            while time.monotonic() - quiet_since < 0.3:
                await asyncio.sleep(0.02)
                if counter.mark() != last:
                    last, quiet_since = counter.mark(), time.monotonic()
            figures[name].append((last[0] - since[0], last[1] - since[1]))
            shown[name] = counter.statements[since[1] : last[1]]

        for n in range(parcels):
            pid = f"TX-{n:04d}"
            body = {"parcelId": pid, "lockerId": LOCKER, "sizeClass": "S"}
            booked = await post("/v1/parcels", body)
            door = str(booked["compartmentCode"])
            before = counter.mark()
            result = await post(f"/v1/parcels/{pid}/open", {})
            answered = counter.mark()
            assert result["outcome"] == "Unlocked", result
            figures["POST /open"].append(_minus(answered, before))
            await asyncio.wait_for(locker.wait_door(door, "open"), 10)
            await settled(before, "+DoorOpened")
            before = counter.mark()
            locker.deposit(door)
            while await site.state(pid) != "ready_for_pickup":  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await settled(before, "DoorClosed")

    print(f"door transitions on {kind}, {parcels} parcels (median per transition)")
    for name, samples in figures.items():
        tx = statistics.median(s[0] for s in samples)
        sql = statistics.median(s[1] for s in samples)
        print(f"  {name:<12} {tx:5.1f} transactions  {sql:5.1f} statements")
    if show:
        for name, statements in shown.items():
            print(f"-- {name} (last parcel)")
            for text in statements:
                print(f"   {text[:160]}")


def _in_background() -> bool:
    # The hooks run synchronously inside the task that awaits the statement.
    task = asyncio.current_task()
    return task is not None and task.get_name().startswith(BACKGROUND)


def _minus(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return a[0] - b[0], a[1] - b[1]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--parcels", type=int, default=10)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--show", action="store_true", help="list the last parcel's statements")
    args = parser.parse_args()
    asyncio.run(measure(args.database, args.parcels, args.show))
