"""A real gateway to fuzz: two lockers, one carrier, parcels in several states, a webhook."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gateway.app import Gateway
from gateway.service.layouts import parse_layout
from gateway.settings import Settings
from tests.support.carriers import TestCarrier

FIXTURES = Path(__file__).parents[2] / "fixtures"
NETWORK = "fuzz-net"
LAYOUTS = ("waw-central.yaml", "krk-main.yaml")
# A webhook target nothing listens on: its deliveries fail and are retried, so the delivery
# listings have rows to show. Loopback is allowed for it below (SSRF rules refuse it otherwise).
DEAD_TARGET = "http://127.0.0.1:9/openlocker-fuzz"


@dataclass(kw_only=True)
class FuzzSite:
    gateway: Gateway
    carrier: TestCarrier
    known: dict[str, list[str]] = field(default_factory=dict)


def fuzz_settings(database_url: str) -> Settings:
    return Settings(
        network_id=NETWORK,
        store={"database_url": database_url},
        http={"port": 0},
        mqtt={"embedded_port": 0},
        # No locker is connected, so an open answers 503 Unavailable at once; should one still
        # wait for a locker, it answers 504 Timeout after this long instead of 10 s.
        lockers={"open_timeout": 1},
        housekeeping={"interval": 3600},
        webhooks={"allow_private_targets": ["127.0.0.0/8"]},
    )


@contextlib.asynccontextmanager
async def fuzz_site(database_url: str) -> AsyncIterator[FuzzSite]:
    """The gateway over `database_url`, seeded; `known` lists ids that exist, by parameter."""
    carrier = TestCarrier.ed25519("acme", NETWORK)
    async with Gateway(settings=fuzz_settings(database_url)) as gateway:
        await gateway.carriers.register("acme", carrier.jwks, "ACME Parcel")
        lockers = []
        for name in LAYOUTS:
            locker, doors = parse_layout((FIXTURES / name).read_text()).to_domain()
            await gateway.lockers.provision(locker, doors)
            lockers.append(locker.id)
        site = FuzzSite(gateway=gateway, carrier=carrier, known={"lockerId": lockers})
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
            site.known["parcelId"] = await _seed_parcels(client, carrier, lockers[0])
            site.known["webhookId"] = [await _seed_webhook(client, carrier)]
        yield site


async def _post(
    client: httpx.AsyncClient, carrier: TestCarrier, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    headers = carrier.auth() | {"Idempotency-Key": f"seed-{uuid.uuid4().hex}"}
    response = await client.post(path, json=body, headers=headers)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


async def _seed_parcels(client: httpx.AsyncClient, carrier: TestCarrier, locker: str) -> list[str]:
    """Parcels in the states a carrier's calls can reach without a locker answering."""
    bodies: list[dict[str, Any]] = [
        {"parcelId": "FUZZ-ANNOUNCED", "lockerId": locker, "sizeClass": "S", "reserve": False},
        {"parcelId": "FUZZ-RESERVED", "lockerId": locker, "sizeClass": "M"},
        {
            "parcelId": "FUZZ-FIRST-MILE",
            "lockerId": locker,
            "sizeClass": "S",
            "direction": "first_mile",
        },
        {"parcelId": "FUZZ-CANCELLED", "lockerId": locker, "sizeClass": "S"},
    ]
    for body in bodies:
        await _post(client, carrier, "/v1/parcels", body)
    await _post(client, carrier, "/v1/parcels/FUZZ-CANCELLED/cancel", {})
    return [str(body["parcelId"]) for body in bodies]


async def _seed_webhook(client: httpx.AsyncClient, carrier: TestCarrier) -> str:
    created = await _post(client, carrier, "/v1/webhooks", {"url": DEAD_TARGET})
    return str(created["id"])
