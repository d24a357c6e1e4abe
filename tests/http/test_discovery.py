"""The discovery document over a real gateway: valid, built from the settings in force, and
every URL it names answers; the Python client configures itself from it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from gateway.app import Gateway
from gateway.client import CarrierApiError, CarrierClient, discover
from gateway.http.discovery import DISCOVERY, FEATURE_ROUTES, Discovery, mounted_features
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock

WELL_KNOWN = "/.well-known/olp-configuration"


@dataclass
class Network:
    gateway: Gateway
    acme: TestCarrier
    mqtt_url: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
async def network(tmp_path: Path) -> AsyncIterator[Network]:
    """One gateway (the document does not depend on the database: SQLite only), configured
    away from every default the document publishes, with its embedded broker published."""
    port = _free_port()
    mqtt_url = f"mqtt://127.0.0.1:{port}"
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path / 'discovery.db'}",
        max_body_bytes=4096,
        embedded_mqtt_port=port,
        mqtt={"public_urls": [mqtt_url]},
        parcels={"batch_max": 7, "idempotency_retention": 3600},
        webhooks={"max_subscriptions": 3},
    )
    acme = TestCarrier.ed25519("acme", NETWORK)
    async with Gateway(settings=settings, clock=MovableClock()) as gateway:
        await gateway.carriers.register("acme", acme.jwks, "ACME Parcel")
        await provision(gateway, "waw-central.yaml")
        yield Network(gateway, acme, mqtt_url)


async def _mqtt_connack(url: str) -> int:
    """The first byte of the broker's answer to an MQTT 3.1.1 CONNECT (0x20: CONNACK)."""
    host, _, port = url.removeprefix("mqtt://").rpartition(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        client_id = b"discovery-probe"
        variable = b"\x00\x04MQTT\x04\x02\x00\x3c"
        payload = len(client_id).to_bytes(2, "big") + client_id
        writer.write(bytes([0x10, len(variable) + len(payload)]) + variable + payload)
        await writer.drain()
        return (await asyncio.wait_for(reader.readexactly(4), 10))[0]
    finally:
        writer.close()


async def test_the_document_is_valid_and_every_url_in_it_answers(network: Network) -> None:
    gateway, acme = network.gateway, network.acme
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.get(gateway.base_url + WELL_KNOWN)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        doc: dict[str, Any] = response.json()
        gateway.spec.validate("discovery", doc)

        endpoints = doc["endpoints"]
        assert endpoints["api"] == gateway.base_url.rstrip("/")
        jwks = await http.get(endpoints["jwksUri"])
        assert jwks.status_code == 200
        assert jwks.json()["keys"]
        openapi = await http.get(endpoints["openapi"])
        assert openapi.status_code == 200
        assert f"'{WELL_KNOWN}'" in openapi.text or f"{WELL_KNOWN}:" in openapi.text
        assert (await http.get(endpoints["spec"])).status_code == 200
        assert (await http.get(endpoints["health"])).status_code == 200
        # The API base answers the carrier API with the network's own audience.
        lockers = await http.get(endpoints["api"] + "/v1/lockers", headers=acme.auth())
        assert lockers.status_code == 200
    assert endpoints["mqtt"] == [network.mqtt_url]
    assert await _mqtt_connack(endpoints["mqtt"][0]) == 0x20

    # Every figure is the setting in force, not a default.
    assert doc["networkId"] == NETWORK
    limits = doc["limits"]
    assert limits["maxBodyBytes"] == 4096
    assert limits["batchMaxItems"] == 7
    assert limits["idempotencyKeyRetentionSeconds"] == 3600
    assert limits["webhookSubscriptionsMax"] == 3
    assert doc["algorithms"]["carrierTokens"] == ["ES256", "EdDSA"]
    assert doc["algorithms"]["grants"] == ["EdDSA"]
    assert doc["features"] == list(FEATURE_ROUTES)  # this build mounts every one

    # The published limits are the enforced ones: a page of pageSizeMax + 1 is refused.
    async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as http:
        over = await http.get(
            "/v1/parcels", params={"limit": limits["pageSizeMax"] + 1}, headers=acme.auth()
        )
        assert over.status_code == 422
        at_limit: Any = "x"
        for _ in range(limits["maxJsonDepth"]):
            at_limit = [at_limit]
        for body, status in ((at_limit, 422), ([at_limit], 400)):  # 422: read, not a parcel
            headers = acme.auth() | {"Idempotency-Key": "deep-key-1"}
            answer = await http.post("/v1/parcels", json=body, headers=headers)
            assert answer.status_code == status, answer.text
        assert "nested too deeply" in answer.json()["detail"]


async def test_the_client_configures_itself_from_the_document(network: Network) -> None:
    gateway, acme = network.gateway, network.acme
    found = await discover(gateway.base_url)
    assert found.network_id == NETWORK
    assert found.supports("batch-pre-advice")

    client = await CarrierClient.discover(
        gateway.base_url, carrier_id="acme", private_key=acme.private_key, kid=acme.kid
    )
    async with client:
        # The audience came from the document: the gateway accepts the client's tokens.
        booked = await client.book("DISC-1", locker_id="WAW-CENTRAL-01", size_class="S")
        assert booked.state == "reserved"
        entries = [
            {"parcelId": f"DISC-B{n}", "lockerId": locker, "sizeClass": "XS"}
            for n, locker in enumerate(["WAW-CENTRAL-01", "WAW-CENTRAL-01", "NOWHERE-1"])
        ]
        first = await client.book_batch(entries, idempotency_key="disc-batch-1")
        assert [item.status for item in first.items] == [201, 201, 404]
        assert await client.book_batch(entries, idempotency_key="disc-batch-1") == first
        with pytest.raises(ValueError, match="at most 7 parcels"):
            await client.book_batch(entries * 3)
        with pytest.raises(CarrierApiError) as refused:
            await client.book_batch(entries[:1], idempotency_key="disc-batch-1")
        assert refused.value.status == 409


def test_features_follow_the_mounted_routes() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application()
    app.router.add_post("/v1/parcels", handler)
    app.router.add_get("/v1/parcels/{parcel_id}", handler)
    assert mounted_features(app) == ["parcels"]
    app = web.Application()
    app.router.add_post("/v1/parcels:batch", handler)
    assert mounted_features(app) == ["batch-pre-advice"]


def test_a_configured_public_url_wins_over_the_request_origin() -> None:
    settings = settings_for(
        "sqlite+aiosqlite:///unused.db", http={"public_url": "https://x.example/olp/"}
    )
    config = Discovery.from_settings(settings)
    app = web.Application()
    app[DISCOVERY] = config
    request = make_mocked_request("GET", WELL_KNOWN, headers={"Host": "10.0.0.5:8080"}, app=app)
    endpoints = config.document(request).endpoints
    assert endpoints.api == "https://x.example/olp"
    assert endpoints.jwks_uri == "https://x.example/olp/.well-known/jwks.json"
    assert endpoints.mqtt is None  # none configured: the member is left out
    assert Discovery.from_settings(settings_for("sqlite+aiosqlite:///unused.db")).public_url is None
