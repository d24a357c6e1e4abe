"""Benchmark: deliveries/s through the delivery engine next to a bare httpx POST loop.

One run starts a local receiver (aiohttp, in its own process, so the gateway's event loop is
not shared with it) and prints, per database (SQLite, and PostgreSQL when reachable):
  - bare: httpx POSTs of the same body size and concurrency straight to the receiver;
  - engine: N parcels' events written into the outbox in one transaction, then the time until
    the real gateway's engine has delivered all of them to the same receiver; the ratio;
  - door -> receipt: a deposit on an emulated locker (door closed, over Mosquitto) until the
    carrier's receiver has the `parcel.ready_for_pickup` event, p50/p99.
Usage: python -m bench.deliveries [--deliveries 500] [--rounds 2] [--concurrency 32] [--doors 30]
                                  [--only sqlite|postgresql] [--poll-interval 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiohttp import web
from locker_emulator.bank import EmulatorBank
from locker_emulator.layout import CompartmentConfig, LockerConfig

from connectors.olp_webhooks import OlpWebhooksConfig, OlpWebhooksConnector
from gateway.app import Gateway
from gateway.client import nodelay_transport
from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from gateway.domain.webhooks import DeliveryState
from gateway.sdk.connectors import ConnectorEvent, HttpRequest
from gateway.sdk.connectors.samples import sample_event
from gateway.settings import Settings
from gateway.store import NewDelivery
from gateway.wire import dump
from tests.support.carriers import TestCarrier
from tests.support.mosquitto import Mosquitto, free_port

NETWORK = "bench-net"
CARRIER = "bench"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
READY = "parcel.ready_for_pickup"
GOAL = 0.7


# ---- the receiver: its own process, answers 204, counts and timestamps arrivals -------------


def serve_receiver() -> None:
    """`--serve-receiver`: print the bound port on stdout, then serve until killed."""
    count = 0
    arrivals: dict[str, float] = {}
    waiters: dict[str, asyncio.Event] = {}
    counted = asyncio.Event()  # set on every arrival on /fast

    async def fast(request: web.Request) -> web.Response:
        nonlocal count
        await request.read()
        count += 1
        counted.set()
        return web.Response(status=204)

    async def trace(request: web.Request) -> web.Response:
        # Only the latency phase parses bodies: the throughput phase measures the engine.
        at = time.time()
        body = await request.json()
        key = f"{body['parcel']['parcelId']}/{body['type']}"
        arrivals.setdefault(key, at)
        waiters.setdefault(key, asyncio.Event()).set()
        return web.Response(status=204)

    async def stats(_: web.Request) -> web.Response:
        return web.json_response({"count": count})

    async def wait_count(request: web.Request) -> web.Response:
        # One long poll instead of a request every few ms from the gateway's process, whose
        # CPU the engine being measured needs.
        wanted = int(request.query["n"])
        async with asyncio.timeout(float(request.query.get("timeout", "120"))):
            while count < wanted:
                counted.clear()
                await counted.wait()
        return web.json_response({"count": count})

    async def wait(request: web.Request) -> web.Response:
        key = request.query["key"]
        event = waiters.setdefault(key, asyncio.Event())
        try:
            async with asyncio.timeout(float(request.query.get("timeout", "30"))):
                await event.wait()
        except TimeoutError:
            return web.json_response({"at": None})
        return web.json_response({"at": arrivals[key]})

    async def main() -> None:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_post("/fast/{tail:.*}", fast)
        app.router.add_post("/trace/{tail:.*}", trace)
        app.router.add_get("/stats", stats)
        app.router.add_get("/wait-count", wait_count)
        app.router.add_get("/wait", wait)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


@dataclass(frozen=True)
class Receiver:
    port: int
    client: httpx.AsyncClient

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def count(self) -> int:
        answer = await self.client.get(self.url("/stats"))
        return int(answer.json()["count"])

    async def reached(self, count: int) -> None:
        """Until the receiver has had `count` requests on /fast (one long poll)."""
        answer = await self.client.get(self.url("/wait-count"), params={"n": str(count)})
        answer.raise_for_status()

    async def arrival(self, parcel_id: str, event_type: str, patience_s: float = 30) -> float:
        params = {"key": f"{parcel_id}/{event_type}", "timeout": str(patience_s)}
        answer = (await self.client.get(self.url("/wait"), params=params)).json()
        if answer["at"] is None:
            raise RuntimeError(f"{event_type} of {parcel_id} never reached the receiver")
        return float(answer["at"])


@contextlib.asynccontextmanager
async def receiver_process() -> AsyncIterator[Receiver]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.deliveries", "--serve-receiver", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 30)
        async with httpx.AsyncClient(timeout=60, transport=nodelay_transport()) as client:
            yield Receiver(int(line), client)
    finally:
        proc.terminate()
        await proc.wait()


# ---- figures -----------------------------------------------------------------------------


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


@dataclass
class Row:
    database: str
    bare_per_s: float
    engine_per_s: float
    door_p50_ms: float
    door_p99_ms: float

    @property
    def ratio(self) -> float:
        return self.engine_per_s / self.bare_per_s


def table(rows: list[Row], args: argparse.Namespace, body_bytes: int) -> str:
    lines = [
        f"deliveries: {args.deliveries} events x {args.rounds} rounds, concurrency "
        f"{args.concurrency}, body "
        f"{body_bytes} B, engine poll {args.poll_interval} s; "
        f"door -> receipt: {args.doors} deposits",
        f"{'database':<11} {'bare POST/s':>12} {'engine/s':>10} {'ratio':>6} {'goal':>6}"
        f" {'door p50 ms':>12} {'door p99 ms':>12}",
    ]
    for r in rows:
        verdict = "ok" if r.ratio >= GOAL else "MISS"
        lines.append(
            f"{r.database:<11} {r.bare_per_s:12.0f} {r.engine_per_s:10.0f} {r.ratio:6.2f}"
            f" {verdict:>6} {r.door_p50_ms:12.1f} {r.door_p99_ms:12.1f}"
        )
    return "\n".join(lines)


# ---- the phases -------------------------------------------------------------------------


async def bare_loop(receiver: Receiver, body: bytes, count: int, concurrency: int) -> float:
    """Requests/s of the plainest client: one pooled httpx client, `concurrency` workers."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Content-Type": "application/json"}
    url = receiver.url("/fast/bare")
    async with httpx.AsyncClient(timeout=30, transport=nodelay_transport(limits)) as client:
        return await pool(count, concurrency, lambda: _post(client, url, body, headers))


async def _post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> None:
    response = await client.post(url, content=body, headers=headers)
    if response.status_code != 204:
        raise RuntimeError(f"receiver answered {response.status_code}")


async def pool(count: int, concurrency: int, job: Callable[[], Awaitable[None]]) -> float:
    left = count

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await job()

    began = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for n in range(concurrency):
            group.create_task(worker(), name=f"bench-worker-{n}")
    return count / (time.perf_counter() - began)


def event_body(parcel_id: str) -> dict[str, Any]:
    """A stored event as the outbox holds it, one per parcel; no recipient data."""
    event = sample_event(READY, carrier_id=CARRIER, network_id=NETWORK, recipient=False, seq=1)
    body = dump(event)
    body["eventId"] = str(uuid.uuid4())
    body["parcel"]["parcelId"] = parcel_id
    return body


def rendered_body() -> bytes:
    """What the engine POSTs for one stored event (the OLP webhook body): the bare loop's body."""
    event = ConnectorEvent.from_json(event_body("BENCH-0000000"))
    request = OlpWebhooksConnector(config=OlpWebhooksConfig(url="http://bench/")).render(event)
    assert isinstance(request, HttpRequest)
    return request.body


async def enqueue(gateway: Gateway, webhook_id: str, count: int) -> None:
    """`count` parcels' events into the outbox in one transaction: due together at commit."""
    now = gateway.clock()
    async with gateway.store.transaction() as tx:
        for n in range(count):
            body = event_body(f"BENCH-{n:07d}")
            new = NewDelivery(
                event_id=body["eventId"],
                target_id=webhook_id,
                carrier_id=CARRIER,
                parcel_uid=f"bench-{uuid.uuid4().hex}",
                parcel_seq=1,
                type=READY,
                body=body,
            )
            await tx.outbox.enqueue(new, at=now)


async def engine_rate(
    gateway: Gateway, http: httpx.AsyncClient, carrier: TestCarrier, receiver: Receiver, count: int
) -> float:
    webhook_id = await subscribe(http, carrier, receiver.url("/fast/engine"), None)
    before = await receiver.count()
    began = time.perf_counter()
    await enqueue(gateway, webhook_id, count)
    await receiver.reached(before + count)
    # Received is not yet delivered: the engine still writes the outcome of the last ones.
    while await _pending(gateway, webhook_id):  # noqa: ASYNC110 - the database is polled
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - began
    await unsubscribe(http, carrier, webhook_id)
    return count / elapsed


async def _pending(gateway: Gateway, webhook_id: str) -> bool:
    async with gateway.store.transaction() as tx:
        rows, _ = await tx.outbox.page_all_targets(
            carrier_id=CARRIER, target_id=webhook_id, state=DeliveryState.PENDING, limit=1
        )
    return bool(rows)


async def subscribe(
    http: httpx.AsyncClient, carrier: TestCarrier, url: str, events: list[str] | None
) -> str:
    body: dict[str, Any] = {"url": url} | ({"events": events} if events else {})
    headers = carrier.auth() | {"Idempotency-Key": uuid.uuid4().hex}
    response = await http.post("/v1/webhooks", json=body, headers=headers)
    response.raise_for_status()
    return str(response.json()["id"])


async def unsubscribe(http: httpx.AsyncClient, carrier: TestCarrier, webhook_id: str) -> None:
    (await http.delete(f"/v1/webhooks/{webhook_id}", headers=carrier.auth())).raise_for_status()


async def door_to_receipt(
    http: httpx.AsyncClient,
    carrier: TestCarrier,
    receiver: Receiver,
    bank: EmulatorBank,
    locker_id: str,
    n: int,
) -> list[float]:
    """Book, open, deposit (the door event) one parcel at a time; the wait until receipt."""
    await subscribe(http, carrier, receiver.url("/trace/door"), [READY])
    locker = bank[locker_id]
    samples: list[float] = []
    for i in range(n):
        pid = f"DOOR-{uuid.uuid4().hex[:12]}"
        headers = carrier.auth() | {"Idempotency-Key": uuid.uuid4().hex}
        body = {"parcelId": pid, "lockerId": locker_id, "sizeClass": "S"}
        booked = await http.post("/v1/parcels", json=body, headers=headers)
        booked.raise_for_status()
        door = booked.json()["compartmentCode"]
        headers = carrier.auth() | {"Idempotency-Key": uuid.uuid4().hex}
        (await http.post(f"/v1/parcels/{pid}/open", json={}, headers=headers)).raise_for_status()
        started = time.time()
        locker.deposit(door)
        samples.append(await receiver.arrival(pid, READY) - started)
        if i == 0:
            samples.clear()  # the first one warms connections up
    return samples


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str | None]:
    """A fresh database URL; None when PostgreSQL is not reachable."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as err:
        print(f"(PostgreSQL skipped: not reachable at {PG_ADMIN}: {err})", file=sys.stderr)
        yield None
        return
    name = f"openlocker_bench_{uuid.uuid4().hex[:8]}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def bench_database(kind: str, url: str, args: argparse.Namespace, receiver: Receiver) -> Row:
    # A broker of its own: the previous database's locker left retained messages behind.
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "mqtt") as broker:
        return await _bench_database(kind, url, args, receiver, broker)


async def _bench_database(
    kind: str, url: str, args: argparse.Namespace, receiver: Receiver, broker: Mosquitto
) -> Row:
    carrier = TestCarrier.ed25519(CARRIER, NETWORK)
    locker_id = f"BENCH-DLV-{kind.upper()}"
    settings = Settings(
        network_id=NETWORK,
        store={"database_url": url},
        http={"port": 0},
        mqtt={"url": broker.url, "embedded_port": free_port()},
        webhooks={
            "poll_interval": args.poll_interval,
            "max_in_flight": args.concurrency,
            "allow_private_targets": ["127.0.0.0/8"],  # the receiver is local (SSRF check)
        },
    )
    spec = STANDARD_SIZES[SizeClass.S]
    doors = args.doors + 2
    compartments = [
        Compartment(locker_id, f"C{n:04d}", SizeClass.S, spec.inside, spec.max_weight_g)
        for n in range(doors)
    ]
    hardware = [
        LockerConfig(
            locker_id=locker_id,
            compartments=tuple(CompartmentConfig(c.code, "S") for c in compartments),
        )
    ]
    body = rendered_body()
    async with Gateway(settings=settings) as gateway:
        await gateway.carriers.register(CARRIER, carrier.jwks)
        await gateway.lockers.provision(Locker(locker_id, "Bench", Location(0, 0)), compartments)
        async with (
            EmulatorBank(
                mqtt_url=broker.url, lockers=hardware, root_key=gateway.root_key.public_jwk
            ) as bank,
            httpx.AsyncClient(
                base_url=gateway.base_url, timeout=30, transport=nodelay_transport()
            ) as http,
        ):
            # Rounds alternate the two loops, so that a change in the machine's load (other
            # processes) hits both alike; each figure is the median over the rounds.
            bare: list[float] = []
            rate: list[float] = []
            for _ in range(args.rounds):
                bare.append(await bare_loop(receiver, body, args.deliveries, args.concurrency))
                rate.append(await engine_rate(gateway, http, carrier, receiver, args.deliveries))
            await asyncio.wait_for(bank.wait_all_booted(), 15)
            latencies = await door_to_receipt(
                http, carrier, receiver, bank, locker_id, args.doors + 1
            )
    p50, p99 = percentiles(latencies)
    return Row(kind, statistics.median(bare), statistics.median(rate), p50, p99)


async def main(args: argparse.Namespace) -> None:
    rows: list[Row] = []
    async with receiver_process() as receiver:
        for kind in [args.only] if args.only else ["sqlite", "postgresql"]:
            async with database(kind) as url:
                if url is not None:
                    rows.append(await bench_database(kind, url, args, receiver))
    print(table(rows, args, len(rendered_body())))


def cli() -> None:
    if sys.argv[1:] == ["--serve-receiver"]:
        serve_receiver()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=500, help="events per round")
    parser.add_argument("--concurrency", type=int, default=32, help="in flight, both loops")
    parser.add_argument("--rounds", type=int, default=2, help="bare/engine rounds (median)")
    parser.add_argument("--doors", type=int, default=30, help="deposits for door -> receipt")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--poll-interval", type=float, default=0.05, help="the engine's idle poll, seconds"
    )
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
