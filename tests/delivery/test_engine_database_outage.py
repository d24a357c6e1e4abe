"""A database outage is expected weather for the delivery engine: WARNING lines and a count.

Against a real PostgreSQL server stopped mid-delivery (a private cluster: the machine's own
server is shared) and a receiver that is a real HTTP server. Before, the attempts whose
outcome could not be written were logged as ERROR "failed unexpectedly".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from aiohttp import web

from gateway.delivery.engine import DeliveryEngine, EngineSettings
from gateway.delivery.transports.http import HttpTransport
from gateway.observability.metrics import Metrics
from gateway.sdk.connectors import HttpRequest
from gateway.store import Store
from tests.delivery.engine_support import Book, enqueue, settled
from tests.support.loopback import LOOPBACK
from tests.support.postgres_cluster import PostgresCluster, PostgresMissing, require_binaries


class Receiver:
    """Takes deliveries; holds the first `hold` of them until `release` is set."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.held = asyncio.Event()
        self.release = asyncio.Event()
        self.received: list[bytes] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _take(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(body)
        if len(self.received) <= self.hold:
            if len(self.received) == self.hold:
                self.held.set()
            await self.release.wait()
        return web.Response(status=204)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks", self._take)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hooks"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    try:
        require_binaries()
    except PostgresMissing as err:
        pytest.skip(str(err))
    with PostgresCluster() as pg:
        yield pg


@pytest.fixture
async def store(cluster: PostgresCluster) -> AsyncIterator[Store]:
    admin = await asyncpg.connect(cluster.admin_url)
    try:
        await admin.execute('CREATE DATABASE "outage"')
    finally:
        await admin.close()
    async with Store.connect(cluster.url("outage")) as opened:
        await opened.migrate()
        yield opened


async def test_an_outage_mid_delivery_is_warned_and_counted_then_caught_up(
    cluster: PostgresCluster, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    parcels = [f"OUT-{n}" for n in range(3)]
    async with Receiver(hold=len(parcels)) as receiver:
        book = Book()
        book.add("c1", receiver.url)
        for parcel in parcels:
            await enqueue(store, "c1", parcel, 1)
        engine = DeliveryEngine(
            store=store,
            routes=book,
            transports={HttpRequest: HttpTransport(allow_private=LOOPBACK)},
            # A short lease: what could not be settled is sent again soon after the outage.
            settings=EngineSettings(poll_interval_s=0.05, lease_s=3.0),
            network_id="test-net",
            actor="gateway:test",
            metrics=metrics,
        )
        caplog.set_level(logging.WARNING, logger="gateway.delivery")
        async with engine, asyncio.TaskGroup() as group:
            loop = group.create_task(engine.run_forever(), name="test-delivery-engine")
            try:
                async with asyncio.timeout(10):
                    await receiver.held.wait()  # every attempt is in flight...
                await asyncio.to_thread(cluster.stop, "immediate")  # ...when the database dies
                receiver.release.set()  # their outcomes now have nowhere to go

                def count(step: str) -> float:
                    value = metrics.registry.get_sample_value(
                        "openlocker_delivery_database_unavailable_total", {"step": step}
                    )
                    return value or 0.0

                async with asyncio.timeout(15):
                    while count("settle") < len(parcels) or count("claim") < 1:
                        await asyncio.sleep(0.05)
                await asyncio.to_thread(cluster.start)
                # Caught up: each row delivered (again: at least once) and settled.
                rows = await settled(store, "c1", len(parcels), patience_s=30)
                assert all(row.state == "delivered" for row in rows), rows
            finally:
                loop.cancel()

    records = [r for r in caplog.records if r.name.startswith("gateway.delivery")]
    loud = [r for r in records if r.levelno >= logging.ERROR or r.exc_info]
    assert loud == [], [(r.levelname, r.getMessage()) for r in loud]
    warned = [r.getMessage() for r in records if "database unavailable" in r.getMessage()]
    assert any("while settling event OUT-" in m for m in warned), warned
    assert any("while claiming due deliveries" in m for m in warned), warned
    assert len(receiver.received) > len(parcels)  # sent again: the first outcomes were lost
