"""The discovery cache honours Cache-Control; answers are read as SPEC §1 tells receivers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.client import (
    CarrierApiError,
    CarrierClient,
    DiscoveryCache,
    SyncCarrierClient,
    UnreadableAnswer,
    discover_sync,
)
from gateway.client.discovery import freshness_s
from gateway.client.models import read
from gateway.domain.enums import ParcelState
from gateway.wire import ParcelOut
from tests.client.test_retries import PARCEL

BASE = "https://net-a.example"
WELL_KNOWN = f"{BASE}/.well-known/olp-configuration"


def document(network_id: str = "net-a", **extra: Any) -> dict[str, Any]:
    return {
        "specVersion": "1.0",
        "networkId": network_id,
        "endpoints": {
            "api": BASE,
            "jwksUri": f"{BASE}/.well-known/jwks.json",
            "openapi": f"{BASE}/v1/spec/openapi.yaml",
            "spec": f"{BASE}/v1/spec/SPEC.md",
            "health": f"{BASE}/healthz",
        },
        "algorithms": {"carrierTokens": ["EdDSA"], "grants": ["EdDSA"], "webhookSignatures": []},
        "limits": {
            name: 100
            for name in (
                "maxBodyBytes",
                "batchMaxItems",
                "batchMaxBodyBytes",
                "maxJsonDepth",
                "pageSizeDefault",
                "pageSizeMax",
                "idempotencyKeyRetentionSeconds",
                "carrierTokenMaxLifetimeSeconds",
                "maxTokenBytes",
                "webhookSubscriptionsMax",
            )
        },
        "features": ["parcels"],
    } | extra


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@respx.mock
async def test_a_document_is_kept_for_its_max_age_less_its_age() -> None:
    route = respx.get(WELL_KNOWN).mock(
        side_effect=[
            httpx.Response(
                200,
                json=document(),
                headers={"Cache-Control": "public, max-age=3600", "Age": "600"},
            ),
            httpx.Response(200, json=document("net-a2"), headers={"Cache-Control": "max-age=60"}),
        ]
    )
    clock = Clock()
    cache = DiscoveryCache(clock=clock)
    first, second = await asyncio.gather(cache.get(BASE), cache.get(BASE + "/"))
    assert first is second
    assert route.call_count == 1
    clock.now += 2999
    assert (await cache.get(BASE)).network_id == "net-a"
    clock.now += 1  # 3600 - 600 s after the fetch: stale
    assert (await cache.get(BASE)).network_id == "net-a2"
    assert route.call_count == cache.fetches == 2
    cache.invalidate(BASE)  # an answer contradicted it: fetch again
    assert cache.cached(BASE) is None


@respx.mock
def test_no_store_no_cache_and_no_header_are_fetched_every_time() -> None:
    for headers in ({"Cache-Control": "no-store"}, {"Cache-Control": "no-cache"}, {}):
        route = respx.get(WELL_KNOWN).mock(
            return_value=httpx.Response(200, json=document(), headers=headers)
        )
        cache = DiscoveryCache()
        cache.get_sync(BASE)
        discover_sync(BASE, cache=cache)
        assert route.call_count == 2, headers
        respx.clear()


def test_freshness_follows_rfc_9111() -> None:
    def fresh(headers: dict[str, str], status: int = 200) -> float:
        return freshness_s(httpx.Response(status, headers=headers))

    assert fresh({"Cache-Control": "max-age=300"}) == 300
    assert fresh({"Cache-Control": "max-age=300", "Age": "400"}) == 0
    assert fresh({"Cache-Control": "private, no-cache, max-age=300"}) == 0
    date = "Sun, 06 Dec 2026 15:00:00 GMT"
    assert fresh({"Expires": "Sun, 06 Dec 2026 16:00:00 GMT", "Date": date}) == 3600
    assert fresh({"Expires": "0", "Date": date}) == 0  # invalid: already expired
    assert fresh({"Cache-Control": "max-age=300"}, 500) == 0


@respx.mock
async def test_a_broken_document_is_refused_not_cached() -> None:
    broken = document()
    del broken["networkId"]
    respx.get(WELL_KNOWN).mock(
        return_value=httpx.Response(200, json=broken, headers={"Cache-Control": "max-age=60"})
    )
    cache = DiscoveryCache()
    with pytest.raises(UnreadableAnswer, match="/networkId: missing"):
        await cache.get(BASE)
    assert cache.cached(BASE) is None


def test_answers_of_a_newer_network_are_read_not_refused() -> None:
    # A later 1.x adds a member and a parcel state: this client ignores the one and keeps the
    # other as an opaque string (SPEC §1), where the closed wire model would refuse both.
    newer = PARCEL | {"state": "held_at_counter", "hold": {"id": "h1"}}
    newer["requested"] = newer["requested"] | {"temperature": "chilled"}
    parcel = read(ParcelOut, newer)
    assert parcel.state == "held_at_counter"
    assert not isinstance(parcel.state, ParcelState)
    assert parcel.requested.size_class == "S"
    assert read(ParcelOut, PARCEL).state is ParcelState.RESERVED
    assert parcel.created_at.tzinfo is not None
    with pytest.raises(UnreadableAnswer, match="/createdAt"):
        read(ParcelOut, PARCEL | {"createdAt": "2026-12-06T10:00:00"})  # no offset
    with pytest.raises(UnreadableAnswer, match="/requested/weightG"):
        read(ParcelOut, PARCEL | {"requested": {"weightG": "heavy"}})


@respx.mock
async def test_a_batch_refused_as_too_large_refreshes_the_published_limits() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    lowered = document()
    lowered["limits"] = lowered["limits"] | {"batchMaxItems": 2}
    well_known = respx.get(WELL_KNOWN).mock(
        side_effect=[
            httpx.Response(200, json=document(), headers={"Cache-Control": "max-age=3600"}),
            httpx.Response(200, json=lowered, headers={"Cache-Control": "max-age=3600"}),
        ]
    )
    batch = respx.post(f"{BASE}/v1/parcels:batch").mock(
        return_value=httpx.Response(
            413, json={"status": 413, "code": "PayloadTooLarge", "detail": "at most 2 entries"}
        )
    )
    entries = [{"parcelId": f"P-{n}", "lockerId": "L-1", "sizeClass": "S"} for n in range(3)]
    cache = DiscoveryCache()
    client = await CarrierClient.discover(
        BASE, carrier_id="acme", private_key=key, kid="k1", cache=cache
    )
    async with client:
        assert client.network is not None
        assert client.network.limits["batchMaxItems"] == 100
        with pytest.raises(CarrierApiError) as too_large:
            await client.book_batch(entries)
        assert too_large.value.code == "PayloadTooLarge"
        assert client.network.limits["batchMaxItems"] == 2  # the document was fetched again
        assert cache.cached(BASE) is client.network
        with pytest.raises(ValueError, match="at most 2 parcels"):
            await client.book_batch(entries)  # refused here, not sent
    assert (well_known.call_count, batch.call_count) == (2, 1)


@respx.mock
async def test_a_network_that_refuses_the_keys_algorithm_is_refused_by_both_clients() -> None:
    refusing = document() | {
        "algorithms": {"carrierTokens": ["ES256"], "grants": ["EdDSA"], "webhookSignatures": []}
    }
    respx.get(WELL_KNOWN).mock(return_value=httpx.Response(200, json=refusing))
    key = ed25519.Ed25519PrivateKey.generate()
    with pytest.raises(ValueError, match="accepts \\['ES256'\\] carrier tokens, not EdDSA"):
        await CarrierClient.discover(BASE, carrier_id="acme", private_key=key, kid="k1")
    with pytest.raises(ValueError, match="accepts \\['ES256'\\] carrier tokens, not EdDSA"):
        SyncCarrierClient.discover(BASE, carrier_id="acme", private_key=key, kid="k1")
