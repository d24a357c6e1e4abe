"""The carrier client against real gateways (the tests/http site, and networks of its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from gateway.app import Gateway
from gateway.client import CarrierClient, RetryPolicy
from gateway.service.layouts import parse_layout
from tests.http.conftest import NETWORK, Site, settings_for
from tests.http.conftest import site as site  # the fixture, shared with tests/http
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock

# Fast retries: the behaviour under test, not the waiting.
QUICK = RetryPolicy(attempts=3, base_s=0.01, cap_s=0.05)


def client_for(site: Site, carrier: TestCarrier | None = None) -> CarrierClient:
    who = carrier or site.acme
    return CarrierClient(
        site.gateway.base_url,
        carrier_id=who.carrier_id,
        private_key=who.private_key,
        kid=who.kid,
        audience=NETWORK,
        retry=QUICK,
    )


@pytest.fixture
async def acme(site: Site) -> AsyncIterator[CarrierClient]:
    async with client_for(site) as client:
        yield client


NetworkFactory = Callable[..., AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def network_of(tmp_path: Path) -> NetworkFactory:
    """Another network: its own gateway and SQLite file, `network_id`, lockers from YAML text,
    and the carriers registered with their keys."""

    @asynccontextmanager
    async def start(
        network_id: str, layouts: list[str], carriers: list[TestCarrier]
    ) -> AsyncIterator[Gateway]:
        settings = settings_for(
            f"sqlite+aiosqlite:///{tmp_path / (network_id + '.db')}", network_id=network_id
        )
        async with Gateway(settings=settings, clock=MovableClock()) as gateway:
            for carrier in carriers:
                await gateway.carriers.register(carrier.carrier_id, carrier.jwks, "carrier")
            for text in layouts:
                locker, doors = parse_layout(text).to_domain()
                await gateway.lockers.provision(locker, doors)
            yield gateway

    return start
