"""Query on scan, policy `ask`: the carrier's `olp-scan-query` connector is asked about a
parcel it never pre-advised, through a gateway configured from settings (the attachment, its
API key, `[scan]`), against a fake carrier that is a real HTTP server on loopback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from gateway.app import Gateway
from gateway.domain.audit import AuditAction
from gateway.domain.enums import SizeClass
from gateway.domain.scan import ScanPolicy, ScanQuery, ScanRules
from gateway.service.audit import AuditService
from gateway.service.connectors import NewAttachment
from gateway.service.scan_asks import ScanAsker
from tests.http.conftest import NETWORK, Site, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock

WAW = "WAW-CENTRAL-01"
API_KEY = "scan-key-5b1f0c9e7d"


@dataclass
class FakeCarrier:
    """The carrier's scan-query endpoint: answers what the test sets, records what it got."""

    status: int = 200
    answer: dict[str, Any] = field(default_factory=lambda: {"decision": "accept"})
    seen: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event | None = None  # set: the answer waits for it

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append((dict(request.headers), await request.json()))
        self.arrived.set()
        if self.release is not None:
            await self.release.wait()
        return web.json_response(self.answer, status=self.status)


@asynccontextmanager
async def serving_fake_carrier() -> AsyncIterator[tuple[FakeCarrier, str]]:
    """A FakeCarrier's scan-query endpoint on a loopback port, and its URL."""
    fake = FakeCarrier()
    app = web.Application()
    app.router.add_post("/scan-queries", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    server = web.TCPSite(runner, "127.0.0.1", 0)
    await server.start()
    port = server._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake, f"http://127.0.0.1:{port}/scan-queries"
    finally:
        if fake.release is not None:
            fake.release.set()
        await runner.cleanup()


@pytest.fixture
async def carrier() -> AsyncIterator[tuple[FakeCarrier, str]]:
    async with serving_fake_carrier() as served:
        yield served


@pytest.fixture
async def site(database_url: str, carrier: tuple[FakeCarrier, str]) -> AsyncIterator[Site]:
    """acme asks its connector; the network refuses; no answer falls back to refuse."""
    acme = TestCarrier.ed25519("acme", NETWORK)
    globex = TestCarrier.p256("globex", NETWORK)
    clock = MovableClock()
    settings = settings_for(
        database_url,
        scan={"policy": "refuse", "carriers": {"acme": "ask"}, "ask_timeout": 1},
        webhooks={"allow_private_targets": ["127.0.0.0/8"]},
    )
    async with Gateway(settings=settings, clock=clock) as gateway:
        await gateway.carriers.register("acme", acme.jwks, "ACME Parcel")
        await gateway.carriers.register("globex", globex.jwks, "Globex Logistics")
        await provision(gateway, "waw-central.yaml", "krk-main.yaml")
        # As `openlocker connectors add` stores it (the carrier must exist first).
        attachment = NewAttachment(
            id="acme-scan",
            carrier_id="acme",
            connector="olp-scan-query",
            config={"url": carrier[1]},
            auth={"type": "api-key", "value": API_KEY},
        )
        await gateway.connectors.add(attachment)
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=60) as client:
            yield Site(gateway, client, acme, globex, gateway.spec, clock)
            await gateway.locker_side.scans.settle()  # the opens fail: no locker is connected


async def open_round(site: Site, carrier: TestCarrier | None = None) -> None:
    response = await site.post("/v1/courier-sessions", {"lockerId": WAW}, carrier=carrier)
    assert response.status_code == 201, response.text


async def audited(site: Site, parcel_id: str) -> dict[str, Any]:
    records = await AuditService(store=site.gateway.store).latest(
        50, action=AuditAction.PARCEL_SCANNED
    )
    (entry,) = [dict(r.details) for r in records if r.details["parcelId"] == parcel_id]
    return entry


def fallback(site: Site, policy: ScanPolicy) -> None:
    scans = site.gateway.locker_side.scans
    scans.rules = ScanRules(
        ScanPolicy.REFUSE, {"acme": ScanPolicy.ASK}, scans.rules.confirm_window, policy
    )


async def test_the_carrier_accepts_and_names_the_size(
    site: Site, carrier: tuple[FakeCarrier, str]
) -> None:
    fake, _ = carrier
    fake.answer = {"decision": "accept", "sizeClass": "M"}
    await open_round(site)
    scans = site.gateway.locker_side.scans
    assert isinstance(scans.asker, ScanAsker)  # wired from the settings
    answer = await scans.answer(ScanQuery(WAW, "ASK-ACCEPT-1"))
    assert (str(answer.decision), answer.unadvised) == ("Accepted", True)
    assert answer.compartment_code is not None
    assert answer.compartment_code.startswith("M")

    ((headers, body),) = fake.seen
    assert headers["X-API-Key"] == API_KEY  # the attachment's auth plugin signed it
    assert headers["Idempotency-Key"] == body["queryId"]
    assert {k: v for k, v in body.items() if k != "queryId"} == {
        "carrierId": "acme",
        "lockerId": WAW,
        "parcelId": "ASK-ACCEPT-1",
        "networkId": NETWORK,
    }
    parcel = (await site.get("/v1/parcels/ASK-ACCEPT-1")).json()
    assert (parcel["state"], parcel["compartmentCode"]) == ("reserved", answer.compartment_code)
    events = (await site.get("/v1/parcels/ASK-ACCEPT-1/events")).json()["items"]
    assert events[0]["details"]["carrierAnswer"] == "accept"
    entry = await audited(site, "ASK-ACCEPT-1")
    assert entry["asked"] == [
        {"carrierId": "acme", "attachmentId": "acme-scan", "answer": "accept", "sizeClass": "M"}
    ]


async def test_the_couriers_size_wins_over_the_carriers(
    site: Site, carrier: tuple[FakeCarrier, str]
) -> None:
    carrier[0].answer = {"decision": "accept", "sizeClass": "XS"}
    await open_round(site)
    scans = site.gateway.locker_side.scans
    answer = await scans.answer(ScanQuery(WAW, "ASK-SIZE-1", SizeClass.L))
    assert answer.compartment_code is not None
    assert answer.compartment_code.startswith("L")
    assert carrier[0].seen[0][1]["sizeClass"] == "L"


async def test_the_carrier_refuses(site: Site, carrier: tuple[FakeCarrier, str]) -> None:
    carrier[0].answer = {"decision": "refuse"}
    fallback(site, ScanPolicy.HOLD)  # an answer is not a fallback
    await open_round(site)
    answer = await site.gateway.locker_side.scans.answer(ScanQuery(WAW, "ASK-REFUSE-1"))
    assert (str(answer.decision), str(answer.reason)) == ("Refused", "PolicyRefused")
    assert (await site.get("/v1/parcels/ASK-REFUSE-1")).status_code == 404
    assert (await audited(site, "ASK-REFUSE-1"))["asked"][0]["answer"] == "refuse"


@pytest.mark.parametrize("policy", [ScanPolicy.REFUSE, ScanPolicy.HOLD])
async def test_unknown_to_the_carrier_falls_back(
    site: Site, carrier: tuple[FakeCarrier, str], policy: ScanPolicy
) -> None:
    carrier[0].status, carrier[0].answer = 404, {"title": "no such parcel"}
    fallback(site, policy)
    await open_round(site)
    answer = await site.gateway.locker_side.scans.answer(ScanQuery(WAW, "ASK-UNKNOWN-1"))
    assert answer.decision == ("Accepted" if policy is ScanPolicy.HOLD else "Refused")
    if policy is ScanPolicy.HOLD:
        events = (await site.get("/v1/parcels/ASK-UNKNOWN-1/events")).json()["items"]
        assert events[0]["details"]["carrierAnswer"] == "unknown"


async def test_a_slow_carrier_times_out_into_the_fallback_without_holding_the_database(
    site: Site, carrier: tuple[FakeCarrier, str]
) -> None:
    fake = carrier[0]
    fake.release = asyncio.Event()  # the carrier never answers on its own
    fallback(site, ScanPolicy.HOLD)
    await open_round(site)
    scans = site.gateway.locker_side.scans
    scan = asyncio.create_task(scans.answer(ScanQuery(WAW, "ASK-SLOW-1", SizeClass.S)))
    await asyncio.wait_for(fake.arrived.wait(), 10)
    # While the carrier is being asked no transaction is open: a booking goes through.
    body = {"parcelId": "BOOKED-MEANWHILE", "lockerId": WAW, "sizeClass": "S"}
    booked = await site.post("/v1/parcels", body, key="meanwhile-1")
    assert booked.status_code == 201, booked.text
    assert not scan.done()
    answer = await asyncio.wait_for(scan, 10)  # the 1 s ask_timeout, then `hold`
    assert (str(answer.decision), answer.unadvised) == ("Accepted", True)
    entry = await audited(site, "ASK-SLOW-1")
    assert entry["asked"] == [
        {"carrierId": "acme", "attachmentId": "acme-scan", "problem": "no answer within 1 s"}
    ]
    events = (await site.get("/v1/parcels/ASK-SLOW-1/events")).json()["items"]
    assert events[0]["details"]["carrierAnswer"] == "none"


async def test_a_carrier_without_a_scan_query_connector_gets_the_fallback(
    site: Site, carrier: tuple[FakeCarrier, str]
) -> None:
    scans = site.gateway.locker_side.scans
    scans.rules = ScanRules(ScanPolicy.REFUSE, {"globex": ScanPolicy.ASK})
    await open_round(site, site.globex)
    answer = await scans.answer(ScanQuery(WAW, "ASK-GLOBEX-1"))
    assert (str(answer.decision), str(answer.reason)) == ("Refused", "PolicyRefused")
    assert carrier[0].seen == []
    entry = await audited(site, "ASK-GLOBEX-1")
    assert entry["asked"] == [{"carrierId": "globex", "problem": "no active scan-query connector"}]


async def test_an_unreadable_answer_gets_the_fallback(
    site: Site, carrier: tuple[FakeCarrier, str]
) -> None:
    carrier[0].answer = {"decision": "maybe"}
    await open_round(site)
    answer = await site.gateway.locker_side.scans.answer(ScanQuery(WAW, "ASK-GARBLED-1"))
    assert (str(answer.decision), str(answer.reason)) == ("Refused", "PolicyRefused")
    problem = (await audited(site, "ASK-GARBLED-1"))["asked"][0]["problem"]
    assert problem.startswith("unreadable answer"), problem
    json.dumps(problem)
