"""End to end: rendered EPCIS documents go through the HTTP transport to a fake EPCIS repository.

The repository is a real aiohttp server on port 0 with the EPCIS 2.0 REST capture interface's
shape (`POST /capture` answers 202 and a capture job `Location`); what it receives is then
checked by the independent validator (epcis2.js), so the bytes on the wire are what counts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from connectors.epcis import EpcisConfig, EpcisConnector
from gateway.delivery.auth.none import NoAuth
from gateway.delivery.routes import DeliveryPolicy, Route, TargetKind
from gateway.delivery.transports.http import HttpTransport
from gateway.sdk.connectors import OLP_EVENT_TYPES, HttpRequest
from gateway.sdk.connectors.samples import sample_event
from tests.support.loopback import LOOPBACK

from .test_epcis_validate import dist, validate

__all__ = ["dist"]  # the module-scoped fixture that vendors the validator


class FakeEpcisRepository:
    """Takes EPCIS documents at /epcis/capture like a repository; refuses what is not one."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def capture(self, request: web.Request) -> web.Response:
        if request.content_type != "application/ld+json":
            return web.json_response({"type": "unsupported media type"}, status=415)
        try:
            document = json.loads(await request.read())
        except ValueError:
            return web.json_response({"type": "not JSON"}, status=400)
        if document.get("type") != "EPCISDocument":
            return web.json_response({"type": "not an EPCISDocument"}, status=400)
        self.received.append(document)
        self.headers.append(dict(request.headers))
        job = len(self.received)
        return web.Response(status=202, headers={"Location": f"/epcis/capture/{job}"})

    async def __aenter__(self) -> FakeEpcisRepository:
        app = web.Application()
        app.router.add_post("/epcis/capture", self.capture)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/epcis"


@pytest.fixture
async def repository() -> AsyncIterator[FakeEpcisRepository]:
    async with FakeEpcisRepository() as repo:
        yield repo


async def test_every_event_reaches_the_repository_as_valid_epcis(
    dist: Path, repository: FakeEpcisRepository
) -> None:
    connector = EpcisConnector(
        config=EpcisConfig(url=repository.base_url, capture=True, headers={"X-Tenant": "7"})
    )
    route = Route(
        kind=TargetKind.CONNECTOR,
        target_id="acme-epcis",
        carrier_id="acme-post",
        connector=connector,
        auth=NoAuth(),
        policy=DeliveryPolicy(timeout_s=5.0),
    )
    events = [sample_event(t, seq=n) for n, t in enumerate(OLP_EVENT_TYPES, start=1)]
    sent = [e for e in events if connector.wants(e.type)]
    assert len(sent) == len(OLP_EVENT_TYPES) - 1  # all but the reminder
    async with HttpTransport(allow_private=LOOPBACK) as transport:
        for event in sent:
            request = connector.render(event)
            assert isinstance(request, HttpRequest)
            outcome = await transport.send(request, route, event_id=event.event_id, attempt=1)
            assert (outcome.ok, outcome.status) == (True, 202), outcome
    ids = [doc["epcisBody"]["eventList"][0]["eventID"] for doc in repository.received]
    assert ids == [f"urn:uuid:{e.event_id}" for e in sent]
    assert {h["GS1-EPCIS-Version"] for h in repository.headers} == {"2.0.0"}
    assert {h["X-Tenant"] for h in repository.headers} == {"7"}
    status, verdict = validate(repository.received)
    assert status == 0, verdict
    # Only the first event (seq 1) of the sequence adds the gateway-minted id.
    actions = [doc["epcisBody"]["eventList"][0]["action"] for doc in repository.received]
    assert actions[0] == "ADD"
    assert "ADD" not in actions[1:]


async def test_a_repository_that_refuses_the_media_type_is_a_failed_attempt(
    repository: FakeEpcisRepository,
) -> None:
    connector = EpcisConnector(
        config=EpcisConfig(url=repository.base_url, capture=True, content_type="application/json")
    )
    route = Route(
        kind=TargetKind.CONNECTOR,
        target_id="acme-epcis",
        carrier_id="acme-post",
        connector=connector,
        auth=NoAuth(),
        policy=DeliveryPolicy(timeout_s=5.0),
    )
    event = sample_event()
    async with HttpTransport(allow_private=LOOPBACK) as transport:
        outcome = await transport.send(
            connector.render(event), route, event_id=event.event_id, attempt=1
        )
    assert (outcome.ok, outcome.status) == (False, 415)
    assert repository.received == []
