"""A real gateway's webhooks while the carrier's receiver is killed and restarted mid-stream."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web

from tests.support.mosquitto import free_port
from tests.webhooks.conftest import FakeCarrier, Received, running, verify


@dataclass
class RestartableReceiver:
    """A carrier endpoint on a fixed port that can be killed (connections cut) and restarted."""

    port: int = field(default_factory=free_port)
    received: list[tuple[str, bytes, dict[str, str]]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def kill(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self.kill()

    def distinct(self) -> set[str]:
        return {event_id for event_id, _, _ in self.received}

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append((headers["olp-event-id"], body, headers))
        return web.Response(status=204)


async def test_nothing_lost_nothing_out_of_order_when_the_carrier_restarts(
    database_url: str,
) -> None:
    parcels = [f"E2E-{n:02d}" for n in range(16)]
    # Retries fast and for long enough to outlast the outage; the circuit probes soon.
    settings: dict[str, Any] = {
        "webhook_max_attempts": 100,
        "webhook_backoff_cap_s": 0.1,
        "webhook_breaker_reset_s": 0.3,
    }
    async with (
        FakeCarrier() as unused,
        RestartableReceiver() as receiver,
        running(database_url, unused, **settings) as hooks,
    ):
        await hooks.subscribe(receiver.url)

        async def move(parcel: str) -> None:
            await hooks.book(parcel, reserve=False)  # announced
            await asyncio.sleep(0.05)
            await hooks.cancel(parcel)  # cancelled

        moving = asyncio.gather(*(move(p) for p in parcels))
        while len(receiver.received) < 8:
            await asyncio.sleep(0.005)
        await receiver.kill()  # mid-stream: some requests are cut off in flight
        killed_at = len(receiver.received)
        await asyncio.sleep(0.8)
        await receiver.start()
        await moving
        async with asyncio.timeout(30):
            while len(receiver.distinct()) < 2 * len(parcels):
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        jwks = await hooks.jwks()

    assert killed_at < 2 * len(parcels), "the outage came too late to test anything"
    seqs: dict[str, list[int]] = defaultdict(list)
    bodies: dict[str, set[bytes]] = defaultdict(set)
    for event_id, body, _ in receiver.received:
        event = json.loads(body)
        assert event["eventId"] == event_id
        seqs[event["parcel"]["parcelId"]].append(event["event"]["seq"])
        bodies[event_id].add(body)
    # Nothing lost: every event of every parcel arrived.
    assert sorted(seqs) == parcels
    assert all(sorted(set(s)) == [1, 2] for s in seqs.values())
    # Nothing out of order: a parcel's events arrive in seq order (a repeat may follow itself).
    assert all(s == sorted(s) for s in seqs.values()), dict(seqs)
    # Duplicates only as repeats of one event: the same id carries the very same bytes.
    assert all(len(b) == 1 for b in bodies.values())
    for _, body, headers in receiver.received:
        verify(jwks, Received("/hooks", headers, body, 204))
