"""A real gateway with fast webhook timing, and a fake carrier that receives its webhooks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Self

import httpx
import jwt
import pytest
from aiohttp import web

from gateway.app import Gateway
from tests.http.conftest import NETWORK, Site, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock

# Fast enough for tests, slow enough to see the schedule: attempts 1..4, back-off <= 0.2 s.
FAST_WEBHOOKS: dict[str, Any] = {
    "webhook_poll_interval_s": 0.02,
    "webhook_timeout_s": 1.0,
    "webhook_lease_s": 5.0,
    "webhook_max_attempts": 4,
    "webhook_backoff_base_s": 0.05,
    "webhook_backoff_cap_s": 0.2,
}
HOOK = "/hooks"


@dataclass(frozen=True)
class Received:
    """One request the fake carrier got, exactly as it arrived, and what it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float = 0.0  # wall-clock arrival (time.time())

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.headers["olp-event-id"]

    @property
    def attempt(self) -> int:
        return int(self.headers["olp-delivery-attempt"])


@dataclass
class Behaviour:
    """How the fake answers on one path."""

    fail_next: int = 0
    fail_status: int = 500
    always_fail: bool = False
    delay_s: float = 0.0


@dataclass
class FakeCarrier:
    """A carrier's webhook receiver: a real aiohttp app on port 0 that records every request."""

    received: list[Received] = field(default_factory=list)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    port: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def url(self, path: str = HOOK) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str = HOOK) -> Behaviour:
        return self.behaviours.setdefault(path, Behaviour())

    def delivered(self, path: str | None = None) -> list[Received]:
        """The requests answered 2xx, in arrival order."""
        return [r for r in self.received if r.status < 300 and path in (None, r.path)]

    async def wait_for(
        self, count: int, *, path: str | None = None, patience_s: float = 10
    ) -> None:
        """Until `count` requests were answered 2xx (on `path`, or anywhere)."""
        async with asyncio.timeout(patience_s):
            while len(self.delivered(path)) < count:
                self._changed.clear()
                await self._changed.wait()

    async def wait_for_attempts(self, count: int, *, patience_s: float = 10) -> None:
        async with asyncio.timeout(patience_s):
            while len(self.received) < count:
                self._changed.clear()
                await self._changed.wait()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        rule = self.on(request.path)
        if rule.delay_s:
            await asyncio.sleep(rule.delay_s)
        status = 204
        if rule.always_fail or rule.fail_next > 0:
            status = rule.fail_status
            rule.fail_next = max(0, rule.fail_next - 1)
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append(Received(request.path, headers, body, status, time.time()))
        self._changed.set()
        return web.Response(status=status)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def verify(jwks: dict[str, Any], request: Received) -> dict[str, Any]:
    """Check OLP-Signature as a carrier would (SPEC.md section 10); returns the JWS header."""
    header_b64, payload_b64, signature_b64 = request.headers["olp-signature"].split(".")
    assert payload_b64 == "", "the payload is detached"
    token = f"{header_b64}.{b64url(request.body)}.{signature_b64}"
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "EdDSA", "kid": header["kid"], "typ": "olp-webhook+jws"}
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    payload = jwt.PyJWS().decode(token, key=key.key, algorithms=["EdDSA"])
    assert payload == request.body
    return header


@dataclass
class Hooks:
    """The gateway's site plus the receiver, with the calls the tests repeat."""

    site: Site
    carrier: FakeCarrier

    async def subscribe(
        self,
        url: str | None = None,
        *,
        events: list[str] | None = None,
        carrier: TestCarrier | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"url": url or self.carrier.url()}
        if events is not None:
            body["events"] = events
        response = await self.site.post(
            "/v1/webhooks", body, key=f"sub-{time.monotonic_ns()}", carrier=carrier
        )
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def book(self, parcel_id: str, **extra: Any) -> dict[str, Any]:
        body = {"parcelId": parcel_id, "lockerId": "WAW-CENTRAL-01", "sizeClass": "S", **extra}
        response = await self.site.post("/v1/parcels", body, key=f"book-{parcel_id}")
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def cancel(self, parcel_id: str) -> None:
        path = f"/v1/parcels/{parcel_id}/cancel"
        response = await self.site.post(path, {}, key=f"cancel-{parcel_id}")
        assert response.status_code == 200, response.text

    async def delete(
        self, webhook_id: str, *, carrier: TestCarrier | None = None
    ) -> httpx.Response:
        headers = (carrier or self.site.acme).auth()
        return await self.site.client.delete(f"/v1/webhooks/{webhook_id}", headers=headers)

    async def deliveries(self, webhook_id: str, **params: Any) -> list[dict[str, Any]]:
        response = await self.site.get(f"/v1/webhooks/{webhook_id}/deliveries", **params)
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def settled(self, webhook_id: str, count: int) -> list[dict[str, Any]]:
        """The deliveries once there are `count` and none is pending (the receiver answers
        before the gateway records the outcome)."""
        async with asyncio.timeout(10):
            while True:
                items = await self.deliveries(webhook_id)
                if len(items) == count and all(d["state"] != "pending" for d in items):
                    return items
                await asyncio.sleep(0.02)

    async def settled_attempt(self, webhook_id: str) -> list[dict[str, Any]]:
        """The deliveries once the outcome of a first attempt is recorded."""
        async with asyncio.timeout(10):
            while True:
                items = await self.deliveries(webhook_id)
                if items and all(d["lastStatus"] or d["lastError"] for d in items):
                    return items
                await asyncio.sleep(0.02)

    async def jwks(self) -> dict[str, Any]:
        response = await self.site.client.get("/.well-known/jwks.json")
        assert response.status_code == 200
        keys: dict[str, Any] = response.json()
        return keys


@pytest.fixture
async def receiver() -> AsyncIterator[FakeCarrier]:
    async with FakeCarrier() as carrier:
        yield carrier


# Fixed carriers, so that a second gateway on the same database can sign in as them too.
ACME = TestCarrier.ed25519("acme", NETWORK)
GLOBEX = TestCarrier.p256("globex", NETWORK)


async def open_site(
    gateway: Gateway, clock: MovableClock, *, setup: bool = True
) -> tuple[Site, httpx.AsyncClient]:
    if setup:
        await gateway.carriers.register("acme", ACME.jwks, "ACME Parcel")
        await gateway.carriers.register("globex", GLOBEX.jwks, "Globex Logistics")
        await provision(gateway, "waw-central.yaml", "krk-main.yaml")
    acme, globex = ACME, GLOBEX
    client = httpx.AsyncClient(base_url=gateway.base_url, timeout=60)
    return Site(gateway, client, acme, globex, gateway.spec, clock), client


@contextlib.asynccontextmanager
async def running(
    database_url: str, receiver: FakeCarrier, *, setup: bool = True, **overrides: Any
) -> AsyncIterator[Hooks]:
    """A gateway with FAST_WEBHOOKS (plus `overrides`); `setup` registers carriers and lockers."""
    clock = MovableClock()
    settings = settings_for(database_url, **{**FAST_WEBHOOKS, **overrides})
    async with Gateway(settings=settings, clock=clock) as gateway:
        site, client = await open_site(gateway, clock, setup=setup)
        async with client:
            yield Hooks(site, receiver)


@pytest.fixture
async def hooks(database_url: str, receiver: FakeCarrier) -> AsyncIterator[Hooks]:
    async with running(database_url, receiver) as opened:
        yield opened
