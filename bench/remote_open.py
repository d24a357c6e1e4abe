"""Benchmark: remote-open round trip and sustained full lifecycles, against the raw MQTT limits.

One run starts a private Mosquitto, the gateway (on SQLite, or `--database postgresql`) and an
emulated locker, then prints each figure beside the raw limit measured in the same run and the
goal of issue 11, with the SQL statements and transactions the gateway sent for each:
  - the bare MQTT round trip through the same broker (publish QoS 1 -> echo -> receive),
  - the remote open: HTTP POST /open -> OpenCompartment -> Unlocked -> HTTP answer, p50/p99;
    goal p50 <= 6x and p99 <= 15x the bare round trip's p50 and p99,
  - the one-client MQTT QoS 1 message ceiling through the same broker, the MQTT messages one
    full lifecycle costs (counted by a listener on `#` during warm-up lifecycles), and
    sustained full lifecycles per second (book, open, deposit, ready, open, take, picked up);
    goal >= 60 % of ceiling / messages per lifecycle.
The emulated locker runs in a process of its own (`python -m locker_emulator run`, as a real
locker is another device), driven through its control API; it checks the first of each kind
of its outgoing messages against the spec, not every one (`--check-outgoing first`).
Usage: python -m bench.remote_open [--opens 200] [--lifecycles 100] [--concurrency 8]
       [--database sqlite|postgresql] [--event-loop asyncio|uvloop]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import aiomqtt
import httpx

from bench.raw_limits import NODELAY, Rate, mqtt_ceiling, mqtt_round_trip
from bench.support import (
    GATEWAY_NETWORK,
    StatementLog,
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
from tests.support.mosquitto import Mosquitto

LOCKER = "BENCH-OLP-1"
OPEN_P50_GOAL = 6.0  # x the bare MQTT round trip's p50
OPEN_P99_GOAL = 15.0  # x the bare MQTT round trip's p99
LIFECYCLE_GOAL = 0.6  # of the MQTT ceiling divided by the messages per lifecycle
WARM_UP_LIFECYCLES = 3  # counted for messages per lifecycle, not timed
CEILING_MESSAGES = 20_000
# A carrier polling for a state backs off (each poll is a request with its own transactions).
POLL_FIRST_S = 0.005
POLL_CAP_S = 0.04
CONTROL_LINE = "control API listening on "  # what `openlocker-emulator run` prints


def _ms(samples: list[float]) -> str:
    p50, p99 = percentiles(samples)
    return f"p50 {p50 * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms   (n={len(samples)})"


@contextlib.asynccontextmanager
async def message_counter(port: int) -> AsyncIterator[Callable[[], int]]:
    """Counts every message published through the broker while the block runs (QoS 0 `#`)."""
    seen = 0
    async with aiomqtt.Client(
        "127.0.0.1", port, identifier="bench-counter", socket_options=NODELAY
    ) as client:
        await client.subscribe("#", qos=0)

        async def count() -> None:
            nonlocal seen
            with contextlib.suppress(aiomqtt.MqttError):
                async for _ in client.messages:
                    seen += 1

        async with asyncio.TaskGroup() as tasks:
            task = tasks.create_task(count())
            try:
                yield lambda: seen
            finally:
                await asyncio.sleep(0.2)  # the last messages of the block are in flight
                task.cancel()


class LockerProcess:
    """The emulated locker in its own process; its doors are worked through the control API."""

    def __init__(self, broker_url: str, codes: Sequence[str], workdir: Path, event_loop: str):
        self._broker_url = broker_url
        self._codes = codes
        self._workdir = workdir
        self._event_loop = event_loop
        self._process: asyncio.subprocess.Process | None = None
        self._control: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        layout = self._workdir / "layout.json"
        compartments = [{"code": code, "sizeClass": "S"} for code in self._codes]
        layout.write_text(json.dumps({"lockers": [{"id": LOCKER, "compartments": compartments}]}))
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.remote_open",
            "--emulator",
            self._event_loop,
            "run",
            f"--mqtt-url={self._broker_url}",
            f"--layout={layout}",
            "--control-port=0",
            "--check-outgoing=first",
            "--log-level=WARNING",
            stdout=asyncio.subprocess.PIPE,
        )
        self._control = httpx.AsyncClient(
            base_url=await self._control_url(), timeout=30, transport=nodelay_transport()
        )
        return self

    async def _control_url(self) -> str:
        """The emulator prints where its control API listens (on a port it picked)."""
        assert self._process is not None
        assert self._process.stdout is not None
        async with asyncio.timeout(30):
            while line := (await self._process.stdout.readline()).decode():
                if line.startswith(CONTROL_LINE):
                    return line.removeprefix(CONTROL_LINE).strip()
        raise RuntimeError("the emulator ended before serving its control API (see stderr)")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._control is not None:
            await self._control.aclose()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()

    async def wait_booted(self, timeout_s: float) -> None:
        assert self._control is not None
        async with asyncio.timeout(timeout_s):
            while True:
                with contextlib.suppress(httpx.TransportError):
                    response = await self._control.get(f"/lockers/{LOCKER}")
                    if response.status_code == 200 and response.json().get("bootStatus") == (
                        "Accepted"
                    ):
                        return
                await asyncio.sleep(0.1)

    async def door(self, code: str, action: str) -> None:
        """A person at the door: `deposit`, `take` or `close` (an empty close)."""
        assert self._control is not None
        response = await self._control.post(f"/lockers/{LOCKER}/compartments/{code}/{action}")
        response.raise_for_status()


class Carrier:
    """The bench's carrier: books, opens and polls parcels over the HTTP API."""

    def __init__(self, http: httpx.AsyncClient, carrier: TestCarrier) -> None:
        self._http = http
        self._carrier = carrier
        self.polls = 0

    async def post(self, path: str, body: object) -> dict[str, object]:
        headers = self._carrier.auth() | {"Idempotency-Key": uuid.uuid4().hex}
        response = await self._http.post(path, json=body, headers=headers)
        response.raise_for_status()
        answer: dict[str, object] = response.json()
        return answer

    async def book(self, pid: str) -> str:
        body = {"parcelId": pid, "lockerId": LOCKER, "sizeClass": "S"}
        return str((await self.post("/v1/parcels", body))["compartmentCode"])

    async def open(self, pid: str) -> dict[str, object]:
        return await self.post(f"/v1/parcels/{pid}/open", {})

    async def until(self, pid: str, wanted: str) -> None:
        pause = POLL_FIRST_S
        while True:  # polls like a carrier would; a token is good for one request
            self.polls += 1
            response = await self._http.get(f"/v1/parcels/{pid}", headers=self._carrier.auth())
            response.raise_for_status()
            if response.json()["state"] == wanted:
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, POLL_CAP_S)


async def remote_opens(
    carrier: Carrier, locker: LockerProcess, opens: int, sql: StatementLog
) -> tuple[list[float], Span]:
    """One at a time: the latency a carrier sees; and the SQL statements and transactions
    the gateway sent while each open request ran, on average."""
    samples: list[float] = []
    statements = transactions = 0
    for n in range(opens):
        pid = f"OPEN-{n:05d}"
        door = await carrier.book(pid)
        before = sql.mark()
        started = time.perf_counter()
        result = await carrier.open(pid)
        samples.append(time.perf_counter() - started)
        after = sql.mark()
        statements += after[0] - before[0]
        transactions += after[1] - before[1]
        if result["outcome"] != "Unlocked":
            raise RuntimeError(f"remote open of {pid}: {result}")
        await locker.door(door, "close")  # empty close: the compartment is free again
        await carrier.until(pid, "deposit_failed")
    return samples, Span(statements / max(opens, 1), transactions / max(opens, 1))


def lifecycle(carrier: Carrier, locker: LockerProcess) -> Callable[[str], Awaitable[None]]:
    async def one(pid: str) -> None:
        door = await carrier.book(pid)
        await carrier.open(pid)
        await locker.door(door, "deposit")
        await carrier.until(pid, "ready_for_pickup")
        await carrier.open(pid)
        await locker.door(door, "take")
        await carrier.until(pid, "picked_up")

    return one


@dataclass(frozen=True, slots=True)
class Span:
    """SQL statements and transactions per unit of work (an open request, a lifecycle)."""

    statements: float
    transactions: float


@dataclass(frozen=True, slots=True)
class Figures:
    """What one run measured, raw limits included."""

    mqtt_rtt: list[float]
    ceiling: Rate
    opens: list[float]
    open_sql: Span
    messages_per_lifecycle: float
    lifecycles: int
    lifecycles_s: float
    lifecycle_sql: Span
    polls_per_lifecycle: float


async def measure(
    opens: int, lifecycles: int, concurrency: int, event_loop: str, kind: str
) -> Figures:
    carrier_keys = TestCarrier.ed25519("bench", GATEWAY_NETWORK)
    spec = STANDARD_SIZES[SizeClass.S]
    compartments = [
        Compartment(LOCKER, f"C{n:04d}", SizeClass.S, spec.inside, spec.max_weight_g)
        for n in range(opens + lifecycles + WARM_UP_LIFECYCLES + 10)
    ]
    with (
        tempfile.TemporaryDirectory() as tmp,
        Mosquitto(Path(tmp) / "mqtt") as broker,
        StatementLog.attached() as sql,
    ):
        mqtt_rtt = await mqtt_round_trip(broker.port, max(opens, 100))
        ceiling = await mqtt_ceiling(broker.port, CEILING_MESSAGES)
        async with database(kind) as url:
            settings = bench_settings(url, mqtt={"url": broker.url})
            async with Gateway(settings=settings) as gateway:
                await gateway.carriers.register("bench", carrier_keys.jwks)
                await gateway.lockers.provision(
                    Locker(LOCKER, "Bench", Location(0, 0)), compartments
                )
                codes = [c.code for c in compartments]
                async with (
                    LockerProcess(broker.url, codes, Path(tmp), event_loop) as locker,
                    httpx.AsyncClient(
                        base_url=gateway.base_url, timeout=30, transport=nodelay_transport()
                    ) as http,
                ):
                    await locker.wait_booted(30)
                    carrier = Carrier(http, carrier_keys)
                    open_samples, open_sql = await remote_opens(carrier, locker, opens, sql)

                    one = lifecycle(carrier, locker)
                    async with message_counter(broker.port) as counted:
                        for n in range(WARM_UP_LIFECYCLES):
                            await one(f"WARM-{n:05d}")
                    per_lifecycle = counted() / WARM_UP_LIFECYCLES

                    gate = asyncio.Semaphore(concurrency)

                    async def bounded(pid: str) -> None:
                        async with gate:
                            await one(pid)

                    polls, before = carrier.polls, sql.mark()
                    began = time.perf_counter()
                    async with asyncio.TaskGroup() as tasks:
                        for n in range(lifecycles):
                            tasks.create_task(bounded(f"LIFE-{n:05d}"))
                    elapsed = time.perf_counter() - began
                    after = sql.mark()
    done = max(lifecycles, 1)
    return Figures(
        mqtt_rtt=mqtt_rtt,
        ceiling=ceiling,
        opens=open_samples,
        open_sql=open_sql,
        messages_per_lifecycle=per_lifecycle,
        lifecycles=lifecycles,
        lifecycles_s=elapsed,
        lifecycle_sql=Span((after[0] - before[0]) / done, (after[1] - before[1]) / done),
        polls_per_lifecycle=(carrier.polls - polls) / done,
    )


async def main(opens: int, lifecycles: int, concurrency: int, event_loop: str, kind: str) -> None:
    f = await measure(opens, lifecycles, concurrency, event_loop, kind)
    rtt_p50, rtt_p99 = percentiles(f.mqtt_rtt)
    open_p50, open_p99 = percentiles(f.opens)
    p50_ratio, p99_ratio = open_p50 / rtt_p50, open_p99 / rtt_p99
    rate = f.lifecycles / f.lifecycles_s
    bound = f.ceiling.per_s / f.messages_per_lifecycle
    print(
        f"OLP over Mosquitto on one machine "
        f"(gateway on {kind}, 1 emulated locker, event loop {event_loop})"
    )
    print(f"  bare MQTT round trip (QoS 1 echo)     {_ms(f.mqtt_rtt)}")
    print(f"  remote open (HTTP -> door -> HTTP)    {_ms(f.opens)}")
    print(
        f"    = {p50_ratio:5.1f}x round trip at p50 (goal <= {OPEN_P50_GOAL:.0f}x: "
        f"{_verdict(p50_ratio <= OPEN_P50_GOAL)}), {p99_ratio:5.1f}x at p99 "
        f"(goal <= {OPEN_P99_GOAL:.0f}x: {_verdict(p99_ratio <= OPEN_P99_GOAL)})"
    )
    print(
        f"    SQL while an open request runs: {f.open_sql.statements:.1f} statements "
        f"in {f.open_sql.transactions:.1f} transactions"
    )
    print(f"  one-client MQTT QoS 1 ceiling         {f.ceiling.per_s:7.0f} msgs/s")
    print(f"  MQTT messages per full lifecycle      {f.messages_per_lifecycle:7.1f}")
    print(
        f"  full lifecycles (concurrency {concurrency})      "
        f"{rate:7.1f}/s   ({f.lifecycles} in {f.lifecycles_s:.1f} s)"
    )
    print(
        f"    SQL per lifecycle: {f.lifecycle_sql.statements:.0f} statements in "
        f"{f.lifecycle_sql.transactions:.0f} transactions, with "
        f"{f.polls_per_lifecycle:.1f} state polls (GET /v1/parcels/...)"
    )
    print(
        f"    = {rate / bound:.1%} of ceiling / messages per lifecycle ({bound:.0f}/s) "
        f"(goal >= {LIFECYCLE_GOAL:.0%}: {_verdict(rate / bound >= LIFECYCLE_GOAL)})"
    )


def _verdict(met: bool) -> str:
    return "meets" if met else "misses"


def emulator(argv: list[str], event_loop: str) -> int:
    """`openlocker-emulator` on the bench's event loop choice."""
    from locker_emulator import cli

    if event_loop == "uvloop":
        import uvloop

        # The emulator's CLI calls asyncio.run itself: the policy makes that loop a uvloop.
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return cli.main(argv)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--emulator"]:
        # The locker's own process: --emulator EVENT_LOOP, then openlocker-emulator's arguments.
        sys.exit(emulator(sys.argv[3:], sys.argv[2]))
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--opens", type=int, default=200)
    parser.add_argument("--lifecycles", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    event_loop_choice(parser)
    args = parser.parse_args()
    if min(args.opens, args.lifecycles, args.concurrency) < 1:
        parser.error("--opens, --lifecycles and --concurrency must be at least 1")
    run(
        main(args.opens, args.lifecycles, args.concurrency, args.event_loop, args.database),
        args.event_loop,
    )
