"""A real gateway on a free port over each database, with two carriers and two lockers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.service.layouts import parse_layout
from gateway.settings import Settings
from gateway.spec import Spec
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock

FIXTURES = Path(__file__).parent.parent / "fixtures"
NETWORK = "test-net"


@dataclass
class Site:
    gateway: Gateway
    client: httpx.AsyncClient
    acme: TestCarrier
    globex: TestCarrier
    spec: Spec
    clock: MovableClock

    async def post(
        self, path: str, body: Any, *, key: str | None = None, carrier: TestCarrier | None = None
    ) -> httpx.Response:
        headers = (carrier or self.acme).auth()
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.client.post(path, json=body, headers=headers)

    async def get(
        self, path: str, *, carrier: TestCarrier | None = None, **params: Any
    ) -> httpx.Response:
        return await self.client.get(path, params=params, headers=(carrier or self.acme).auth())


async def provision(gateway: Gateway, *layouts: str) -> None:
    for name in layouts:
        locker, doors = parse_layout((FIXTURES / name).read_text()).to_domain()
        await gateway.lockers.provision(locker, doors)


def settings_for(database_url: str, **extra: Any) -> Settings:
    defaults: dict[str, Any] = {
        "database_url": database_url,
        "http_port": 0,
        "network_id": NETWORK,
        "housekeeping_interval_s": 3600,
        "embedded_mqtt_port": 0,
    }
    return Settings(**(defaults | extra))


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[Site]:
    acme = TestCarrier.ed25519("acme", NETWORK)
    globex = TestCarrier.p256("globex", NETWORK)
    clock = MovableClock()
    async with Gateway(settings=settings_for(database_url), clock=clock) as gateway:
        await gateway.carriers.register("acme", acme.jwks, "ACME Parcel")
        await gateway.carriers.register("globex", globex.jwks, "Globex Logistics")
        await provision(gateway, "waw-central.yaml", "krk-main.yaml")
        limits = httpx.Limits(max_connections=250, max_keepalive_connections=250)
        async with httpx.AsyncClient(
            base_url=gateway.base_url, timeout=60, limits=limits
        ) as client:
            yield Site(gateway, client, acme, globex, gateway.spec, clock)
