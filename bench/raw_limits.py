"""The raw limits the hot-path figures are judged against, measured on this machine now.

- MQTT: the bare QoS 1 round trip (publish -> echo -> receive), and the one-client QoS 1
  message ceiling: one client publishes QoS 1 as fast as the broker acknowledges, a second
  client receives at QoS 1; messages/s from the first publish to the last receipt.
- Database: the raw transaction rate for the rows one booking writes (the JTI, the claimed
  compartment, the parcel, its two events, the idempotency answer), as bare SQLAlchemy Core
  transactions on the gateway's own engine settings, without the gateway around them.
Usage: python -m bench.raw_limits [--database sqlite|postgresql] [--transactions 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import aiomqtt
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.support import database, event_loop_choice, percentiles, run
from gateway.domain.compartment import Compartment
from gateway.domain.enums import CompartmentState, Direction, ParcelState, SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from gateway.store import Store
from gateway.store.engine import create_engine
from gateway.store.tables import compartments, idempotency_keys, parcel_events, parcels, used_jtis
from tests.support.mosquitto import Mosquitto

NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
RAW_LOCKER = "RAW-1"
# Publishes awaiting their PUBACK at once in the ceiling measurement: enough to keep the broker
# busy; aiomqtt warns about more than 10 pending publish calls, paho allows 20 in flight.
CEILING_WINDOW = 10
CEILING_UNRECEIVED = 200  # published, not yet received: far below the broker's queue limit
CEILING_TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Rate:
    count: int
    elapsed_s: float

    @property
    def per_s(self) -> float:
        return self.count / self.elapsed_s


async def mqtt_round_trip(port: int, count: int) -> list[float]:
    """Publish QoS 1, an echo client answers QoS 1: the floor under any OLP call."""
    samples: list[float] = []
    async with (
        aiomqtt.Client("127.0.0.1", port, identifier="raw-echo", socket_options=NODELAY) as echo,
        aiomqtt.Client("127.0.0.1", port, identifier="raw-ping", socket_options=NODELAY) as ping,
    ):
        await echo.subscribe("raw/ping", qos=1)
        await ping.subscribe("raw/pong", qos=1)

        async def echo_loop() -> None:
            # Ends when the echo client disconnects at the end of the block.
            with contextlib.suppress(aiomqtt.MqttError):
                async for message in echo.messages:
                    await echo.publish("raw/pong", message.payload, qos=1)

        task = asyncio.get_running_loop().create_task(echo_loop())
        await asyncio.sleep(0.2)
        try:
            for n in range(count):
                started = time.perf_counter()
                await ping.publish("raw/ping", str(n).encode(), qos=1)
                async for _ in ping.messages:
                    break
                samples.append(time.perf_counter() - started)
        finally:
            task.cancel()
    return samples


async def mqtt_ceiling(port: int, count: int, payload_bytes: int = 200) -> Rate:
    """QoS 1 messages/s one client gets through the broker to a QoS 1 subscriber."""
    payload = b"x" * payload_bytes  # about an OLP event's size
    async with (
        aiomqtt.Client("127.0.0.1", port, identifier="raw-sink", socket_options=NODELAY) as sink,
        aiomqtt.Client(
            "127.0.0.1", port, identifier="raw-source", socket_options=NODELAY
        ) as source,
    ):
        await sink.subscribe("raw/ceiling", qos=1)
        received = asyncio.Event()
        # End-to-end flow control: the broker acknowledges a publish on receipt, so a sink
        # slower than the source would fill its queue on the broker (1,000 messages by
        # default), and Mosquitto drops what does not fit.
        unreceived = asyncio.Semaphore(CEILING_UNRECEIVED)

        async def drain() -> None:
            seen = 0
            async for _ in sink.messages:
                seen += 1
                unreceived.release()
                if seen == count:
                    received.set()
                    return

        async def publisher(share: int) -> None:
            for _ in range(share):
                await unreceived.acquire()
                await source.publish("raw/ceiling", payload, qos=1)

        shares = [
            count // CEILING_WINDOW + (n < count % CEILING_WINDOW) for n in range(CEILING_WINDOW)
        ]
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(drain())
            began = time.perf_counter()
            for share in shares:
                tasks.create_task(publisher(share))
            async with asyncio.timeout(CEILING_TIMEOUT_S):
                await received.wait()
            elapsed = time.perf_counter() - began
    return Rate(count, elapsed)


async def raw_bookings(url: str, transactions: int, concurrency: int) -> Rate:
    """Bare transactions writing the rows of one booking each, `concurrency` at a time."""
    async with Store.connect(url) as store:
        await store.migrate()
        spec = STANDARD_SIZES[SizeClass.S]
        doors = [
            Compartment(RAW_LOCKER, f"R{n:05d}", SizeClass.S, spec.inside, spec.max_weight_g)
            for n in range(transactions)
        ]
        async with store.transaction() as tx:
            await tx.lockers.add(Locker(RAW_LOCKER, "Raw", Location(0, 0)), doors)
    engine = create_engine(url)
    try:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(transactions):
            queue.put_nowait(n)

        async def worker() -> None:
            while not queue.empty():
                await _one_booking(engine, queue.get_nowait())

        began = time.perf_counter()
        async with asyncio.TaskGroup() as tasks:
            for _ in range(concurrency):
                tasks.create_task(worker())
        return Rate(transactions, time.perf_counter() - began)
    finally:
        await engine.dispose()


async def _one_booking(engine: AsyncEngine, n: int) -> None:
    now = datetime.now(UTC)
    uid = str(uuid.uuid4())
    code = f"R{n:05d}"
    event: dict[str, Any] = {"parcel_uid": uid, "at": now, "details": {}}
    async with engine.begin() as conn:
        await conn.execute(
            insert(used_jtis).values(issuer="raw", jti=uid, expires_at=now + timedelta(minutes=5))
        )
        claimed = await conn.execute(
            update(compartments)
            .where(
                compartments.c.locker_id == RAW_LOCKER,
                compartments.c.code == code,
                compartments.c.state == CompartmentState.AVAILABLE,
            )
            .values(state=CompartmentState.RESERVED, parcel_uid=uid, updated_at=now)
        )
        if claimed.rowcount != 1:
            raise RuntimeError(f"raw booking {n} found its compartment taken")
        await conn.execute(
            insert(parcels).values(
                uid=uid,
                carrier_id="raw",
                parcel_id=f"RAW-{n:05d}",
                direction=Direction.LAST_MILE,
                state=ParcelState.RESERVED,
                locker_id=RAW_LOCKER,
                compartment_code=code,
                size_class=SizeClass.S,
                reserved_until=now + timedelta(days=1),
                pickup_window_s=3 * 86400,
                reservation_ttl_s=86400,
                created_at=now,
                updated_at=now,
                version=1,
                last_seq=2,
            )
        )
        await conn.execute(
            insert(parcel_events),
            [
                event | {"seq": 1, "type": "announced", "to_state": ParcelState.ANNOUNCED},
                event
                | {
                    "seq": 2,
                    "type": "reserved",
                    "from_state": ParcelState.ANNOUNCED,
                    "to_state": ParcelState.RESERVED,
                },
            ],
        )
        await conn.execute(
            insert(idempotency_keys).values(
                carrier_id="raw",
                key=uid,
                fingerprint="0" * 64,
                response={"parcelId": f"RAW-{n:05d}", "state": "reserved"},
                created_at=now,
            )
        )


async def main(kind: str, transactions: int, concurrency: int, messages: int) -> None:
    with TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "mqtt") as broker:
        rtt = await mqtt_round_trip(broker.port, 200)
        ceiling = await mqtt_ceiling(broker.port, messages)
    p50, p99 = percentiles(rtt)
    print("MQTT through Mosquitto on this machine")
    print(f"  QoS 1 round trip            p50 {p50 * 1000:6.2f} ms   p99 {p99 * 1000:6.2f} ms")
    print(f"  one-client QoS 1 ceiling    {ceiling.per_s:8.0f} msgs/s ({messages} messages)")
    async with database(kind) as url:
        rate = await raw_bookings(url, transactions, concurrency)
    print(f"{kind}: raw booking transactions (concurrency {concurrency})")
    print(f"  {rate.per_s:8.0f} tx/s   ({transactions} in {rate.elapsed_s:.2f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--messages", type=int, default=20000)
    event_loop_choice(parser)
    args = parser.parse_args()
    run(main(args.database, args.transactions, args.concurrency, args.messages), args.event_loop)
