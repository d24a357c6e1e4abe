"""/readyz tells the truth: 503 problem+json naming the dependency while the broker is down or
the database unreachable, 200 again once they are back; /healthz stays 200 throughout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from gateway.app import Gateway
from tests.http.conftest import settings_for
from tests.observability.conftest import TelemetrySite, eventually, scrape
from tests.observability.cut import Cuttable


async def readiness(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    body: dict[str, Any] = response.json()
    if response.status_code == 503:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert body["code"] == "Unavailable"
        assert body["status"] == 503
    return response.status_code, body["checks"]


async def test_broker_down_then_back(telemetry_site: TelemetrySite) -> None:
    site = telemetry_site
    assert await readiness(site.client) == (200, {"database": "ok", "broker": "ok"})

    site.broker.stop()
    await eventually(
        lambda: readiness(site.client), (503, {"database": "ok", "broker": "disconnected"})
    )
    answer = (await site.client.get("/readyz")).json()
    assert answer["detail"] == "not ready: broker disconnected"
    site.gateway.spec.validate("problem", {k: v for k, v in answer.items()})
    assert (await site.client.get("/healthz")).status_code == 200

    site.broker.start()
    await eventually(lambda: readiness(site.client), (200, {"database": "ok", "broker": "ok"}), 20)


@pytest.fixture
async def cut_database(_clean_postgres: str) -> AsyncIterator[tuple[Cuttable, str]]:
    url = make_url(_clean_postgres)
    async with Cuttable(url.port or 5432) as link:
        through = url.set(host="127.0.0.1", port=link.port)
        yield link, through.render_as_string(hide_password=False)


@pytest.mark.postgres
async def test_database_unreachable_then_back(cut_database: tuple[Cuttable, str]) -> None:
    link, url = cut_database
    settings = settings_for(url, metrics={"figures_max_age": 0})
    async with (
        Gateway(settings=settings) as gateway,
        httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client,
    ):
        assert await readiness(client) == (200, {"database": "ok", "broker": "ok"})
        assert (await scrape(client)).value("openlocker_database_figures_up") == 1

        await link.cut()
        status, checks = await readiness(client)
        assert status == 503
        assert checks["broker"] == "ok"
        assert checks["database"].startswith(("unreachable", "no answer")), checks
        assert (await client.get("/healthz")).status_code == 200
        # /metrics still answers (this instance's counters) and says the figures are missing.
        scraped = await scrape(client)
        assert scraped.value("openlocker_database_figures_up") == 0
        assert not scraped.by("openlocker_parcels", "state")

        await link.restore()
        await eventually(lambda: readiness(client), (200, {"database": "ok", "broker": "ok"}), 20)
