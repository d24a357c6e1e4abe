"""/metrics' own rules: an optional bearer token, a registry per gateway, the loop-lag monitor."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from prometheus_client import Histogram

from gateway.app import Gateway
from gateway.observability.loop_lag import monitor_loop_lag
from gateway.observability.metrics import Metrics
from gateway.sdk import background
from tests.http.conftest import settings_for
from tests.observability.conftest import scrape


async def test_bearer_token_guards_metrics_only(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}"
    settings = settings_for(url, metrics={"bearer_token": "s3cret-scrape"})
    async with (
        Gateway(settings=settings) as gateway,
        httpx.AsyncClient(base_url=gateway.base_url) as client,
    ):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-scrape"}):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.headers["content-type"].startswith("application/problem+json")
        scraped = await scrape(client, Authorization="Bearer s3cret-scrape")
        assert scraped.value("openlocker_lockers") == 0
        assert (await client.get("/readyz")).status_code == 200  # the probes stay open


async def test_two_gateways_in_one_process_count_apart(tmp_path: Path) -> None:
    first = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'a.db'}")
    second = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    async with (
        Gateway(settings=first) as a,
        Gateway(settings=second) as b,
        httpx.AsyncClient(base_url=a.base_url) as client_a,
        httpx.AsyncClient(base_url=b.base_url) as client_b,
    ):
        for _ in range(3):
            await client_a.get("/healthz")
        labels = {"route": "/healthz", "method": "GET", "status_class": "2xx"}
        count = "openlocker_http_request_duration_seconds_count"
        assert (await scrape(client_a)).value(count, **labels) == 3
        assert (await scrape(client_b)).value(count, **labels) == 0


async def test_loop_lag_sees_a_blocked_loop() -> None:
    lag = Metrics().loop_lag
    async with background(monitor_loop_lag(lag, interval_s=0.02), "lag"):
        await _observed(lag, 1)
        time.sleep(0.3)  # noqa: ASYNC251 - blocking the loop is the point: its timer fires late
        await _observed(lag, 2)
    assert _sum(lag) >= 0.25


async def _observed(histogram: Histogram, count: int) -> None:
    async with asyncio.timeout(5):
        while _count(histogram) < count:
            await asyncio.sleep(0.01)


def _count(histogram: Histogram) -> float:
    return _sample(histogram, "_count")


def _sum(histogram: Histogram) -> float:
    return _sample(histogram, "_sum")


def _sample(histogram: Histogram, suffix: str) -> float:
    for family in histogram.collect():
        for sample in family.samples:
            if sample.name.endswith(suffix):
                return float(sample.value)
    raise AssertionError(f"no {suffix} sample")
