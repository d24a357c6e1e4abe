"""Benchmark: remote-open round trip and sustained full lifecycles, against the raw MQTT limit.

One run starts a private Mosquitto, the gateway (SQLite) and an emulated locker, then prints:
  - the bare MQTT round trip through the same broker (publish QoS 1 -> echo -> receive),
  - the remote open: HTTP POST /open -> OpenCompartment -> Unlocked -> HTTP answer, p50/p99,
  - sustained full lifecycles per second (book, open, deposit, ready, open, take, picked up).
Usage: python -m bench.remote_open [--opens 200] [--lifecycles 100] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import aiomqtt
import httpx
from locker_emulator.bank import EmulatorBank
from locker_emulator.layout import CompartmentConfig, LockerConfig

from gateway.app import Gateway
from gateway.client import nodelay_transport
from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from gateway.settings import Settings
from tests.support.carriers import TestCarrier
from tests.support.mosquitto import Mosquitto, free_port

NETWORK = "bench-net"
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
LOCKER = "BENCH-OLP-1"


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   (n={len(ordered)})"


async def bare_mqtt_round_trip(port: int, count: int) -> list[float]:
    """Publish QoS 1, an echo client answers QoS 1: the floor under any OLP call."""
    samples: list[float] = []
    async with (
        aiomqtt.Client("127.0.0.1", port, identifier="bench-echo", socket_options=NODELAY) as echo,
        aiomqtt.Client("127.0.0.1", port, identifier="bench-ping", socket_options=NODELAY) as ping,
    ):
        await echo.subscribe("bench/ping", qos=1)
        await ping.subscribe("bench/pong", qos=1)

        async def echo_loop() -> None:
            # Ends when the echo client disconnects at the end of the block.
            with contextlib.suppress(aiomqtt.MqttError):
                async for message in echo.messages:
                    await echo.publish("bench/pong", message.payload, qos=1)

        task = asyncio.get_running_loop().create_task(echo_loop())
        await asyncio.sleep(0.2)
        try:
            for n in range(count):
                started = time.perf_counter()
                await ping.publish("bench/ping", str(n).encode(), qos=1)
                async for _ in ping.messages:
                    break
                samples.append(time.perf_counter() - started)
        finally:
            task.cancel()
    return samples


async def main(opens: int, lifecycles: int, concurrency: int) -> None:
    carrier = TestCarrier.ed25519("bench", NETWORK)
    doors = max(opens, lifecycles) + 10
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "mqtt") as broker:
        mqtt_rtt = await bare_mqtt_round_trip(broker.port, opens)
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}",
            http_port=0,
            network_id=NETWORK,
            mqtt_url=broker.url,
            embedded_mqtt_port=free_port(),
        )
        spec = STANDARD_SIZES[SizeClass.S]
        compartments = [
            Compartment(LOCKER, f"C{n:04d}", SizeClass.S, spec.inside, spec.max_weight_g)
            for n in range(doors)
        ]
        hardware = [
            LockerConfig(
                locker_id=LOCKER,
                compartments=tuple(CompartmentConfig(c.code, "S") for c in compartments),
            )
        ]
        async with Gateway(settings=settings) as gateway:
            await gateway.carriers.register("bench", carrier.jwks)
            await gateway.lockers.provision(Locker(LOCKER, "Bench", Location(0, 0)), compartments)
            async with (
                EmulatorBank(mqtt_url=broker.url, lockers=hardware) as bank,
                httpx.AsyncClient(
                    base_url=gateway.base_url, timeout=30, transport=nodelay_transport()
                ) as http,
            ):
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                locker = bank[LOCKER]

                async def post(path: str, body: object) -> dict[str, object]:
                    headers = carrier.auth() | {"Idempotency-Key": uuid.uuid4().hex}
                    response = await http.post(path, json=body, headers=headers)
                    response.raise_for_status()
                    answer: dict[str, object] = response.json()
                    return answer

                async def book(pid: str) -> str:
                    body = {"parcelId": pid, "lockerId": LOCKER, "sizeClass": "S"}
                    return str((await post("/v1/parcels", body))["compartmentCode"])

                async def state(pid: str) -> str:
                    headers = carrier.auth()
                    return str(
                        (await http.get(f"/v1/parcels/{pid}", headers=headers)).json()["state"]
                    )

                async def until(pid: str, wanted: str) -> None:
                    while await state(pid) != wanted:  # noqa: ASYNC110 - polls like a carrier
                        await asyncio.sleep(0.01)

                # Remote opens, one at a time: the latency a carrier sees.
                open_samples: list[float] = []
                for n in range(opens):
                    pid = f"OPEN-{n:05d}"
                    door = await book(pid)
                    started = time.perf_counter()
                    result = await post(f"/v1/parcels/{pid}/open", {})
                    open_samples.append(time.perf_counter() - started)
                    assert result["outcome"] == "Unlocked", result
                    locker.close(door)  # empty close: the compartment is free again
                    await until(pid, "deposit_failed")

                # Full lifecycles, `concurrency` parcels at a time.
                async def lifecycle(pid: str) -> None:
                    door = await book(pid)
                    await post(f"/v1/parcels/{pid}/open", {})
                    locker.deposit(door)
                    await until(pid, "ready_for_pickup")
                    await post(f"/v1/parcels/{pid}/open", {})
                    locker.take(door)
                    await until(pid, "picked_up")

                gate = asyncio.Semaphore(concurrency)

                async def bounded(pid: str) -> None:
                    async with gate:
                        await lifecycle(pid)

                began = time.perf_counter()
                await asyncio.gather(*(bounded(f"LIFE-{n:05d}") for n in range(lifecycles)))
                elapsed = time.perf_counter() - began

    print(f"OLP over Mosquitto {broker.url} on one machine (gateway on SQLite, 1 emulated locker)")
    print(f"  bare MQTT round trip (QoS 1 echo)     {percentiles(mqtt_rtt)}")
    print(f"  remote open (HTTP -> door -> HTTP)    {percentiles(open_samples)}")
    print(
        f"  full lifecycles (concurrency {concurrency})      "
        f"{lifecycles / elapsed:7.1f}/s   ({lifecycles} in {elapsed:.1f} s)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--opens", type=int, default=200)
    parser.add_argument("--lifecycles", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(main(args.opens, args.lifecycles, args.concurrency))
