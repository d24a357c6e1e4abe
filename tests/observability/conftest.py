"""A whole site for telemetry tests: a private Mosquitto, a gateway reading its figures fresh
on every scrape, the emulator, a carrier, a webhook receiver, and the log lines as JSON."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from locker_emulator.bank import EmulatorBank
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import Gateway
from gateway.observability.logs import handler_for
from tests.e2e.conftest import FAST, LOCKER, emulated_lockers, eventually
from tests.e2e.conftest import Site as E2eSite
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.mosquitto import Mosquitto
from tests.webhooks.conftest import FakeCarrier

__all__ = [
    "LOCKER",
    "JsonLog",
    "Scraped",
    "TelemetrySite",
    "eventually",
    "running_site",
    "scrape",
]


class JsonLog:
    """Every log line written while it is installed, as the JSON formatter writes it."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        # Each line must be one JSON object: json.loads fails the test otherwise.
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def text(self) -> str:
        return self.stream.getvalue()

    def with_id(self, correlation_id: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("correlation_id") == correlation_id]


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    log = JsonLog()
    handler = handler_for("json", log.stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield log
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@dataclass
class Scraped:
    """One /metrics answer, parsed by prometheus_client's own parser."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def by(self, name: str, label: str) -> dict[str, float]:
        return {
            dict(key)[label]: value
            for (sample, key), value in self.samples.items()
            if sample == name and label in dict(key)
        }


async def scrape(client: httpx.AsyncClient, **headers: str) -> Scraped:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return Scraped(samples)


@dataclass
class TelemetrySite(E2eSite):
    receiver: FakeCarrier | None = None

    async def scrape(self) -> Scraped:
        return await scrape(self.client)


@pytest.fixture
async def telemetry_site(database_url: str, tmp_path: Path) -> AsyncIterator[TelemetrySite]:
    async with running_site(database_url, tmp_path) as site:
        yield site


@contextlib.asynccontextmanager
async def running_site(
    database_url: str, tmp_path: Path, **settings_extra: Any
) -> AsyncIterator[TelemetrySite]:
    """The whole site; `settings_extra` adds settings (e.g. `tracing={...}`)."""
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(
            database_url,
            mqtt_url=broker.url,
            open_timeout_s=3.0,
            webhook_poll_interval_s=0.05,
            metrics={"figures_max_age": 0},  # every scrape reads the database
            **settings_extra,
        )
        async with (
            FakeCarrier() as receiver,
            Gateway(settings=settings, clock=clock) as gateway,
        ):
            await gateway.carriers.register("acme", carrier.jwks)
            await provision(gateway, "waw-central.yaml")
            async with EmulatorBank(
                mqtt_url=broker.url,
                lockers=emulated_lockers(),
                timing=FAST,
                root_key=gateway.root_key.public_jwk,  # pinned at provisioning (SPEC §9)
            ) as bank:
                await asyncio.wait_for(bank.wait_all_booted(), 15)
                async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
                    yield TelemetrySite(gateway, bank, broker, client, carrier, clock, receiver)
