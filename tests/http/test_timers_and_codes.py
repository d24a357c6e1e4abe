"""Expiry is kept in the database (it survives a restart); codes are bound to one locker."""

from __future__ import annotations

import asyncio

from gateway.app import Gateway
from gateway.domain.enums import SizeClass
from gateway.domain.sizes import SizeRequirement
from gateway.http import render
from gateway.service.idempotency import IdempotencyKey, Idempotent
from gateway.service.parcels import NewParcel
from tests.http.conftest import NETWORK, Site, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock


async def test_reservation_expiry_survives_a_restart(database_url: str) -> None:
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    async with Gateway(settings=settings_for(database_url), clock=clock) as first:
        await first.carriers.register("acme", carrier.jwks)
        await provision(first, "waw-central.yaml")
        cmd = NewParcel(
            carrier_id="acme",
            parcel_id="TTL-1",
            locker_id="WAW-CENTRAL-01",
            need=SizeRequirement(size_class=SizeClass.S),
        )
        key = IdempotencyKey("ttl-key-0001", "fingerprint")
        await first.parcels.create(cmd, Idempotent(key, render.parcel))
    clock.advance(25 * 3600)  # past the default 24 h reservation while no gateway runs
    quick = settings_for(database_url, housekeeping_interval_s=0.05)
    async with Gateway(settings=quick, clock=clock) as second:
        for _ in range(100):
            if (await second.parcels.get("acme", "TTL-1")).state.value == "reservation_expired":
                break
            await asyncio.sleep(0.05)
        assert (await second.parcels.get("acme", "TTL-1")).state.value == "reservation_expired"


async def test_a_code_opens_only_its_own_locker(site: Site) -> None:
    body = {"parcelId": "CODE-1", "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"}
    assert (await site.post("/v1/parcels", body, key="code-book-0001")).status_code == 201
    issued = await site.client.post("/v1/parcels/CODE-1/codes", json={}, headers=site.acme.auth())
    assert issued.status_code == 201, issued.text
    answer = issued.json()
    site.spec.validate("access-code", answer)
    assert answer["purpose"] == "deposit"
    assert answer["lockerId"] == "WAW-CENTRAL-01"
    code = answer["code"]
    store = site.gateway.store
    async with store.transaction() as tx:
        assert await site.gateway.codes.redeem(tx, "KRK-MAIN-01", code) is None
    async with store.transaction() as tx:
        redeemed = await site.gateway.codes.redeem(tx, "WAW-CENTRAL-01", code)
    assert redeemed is not None
    async with store.transaction() as tx:
        assert await site.gateway.codes.redeem(tx, "WAW-CENTRAL-01", code) is None  # single use


async def test_codes_need_a_door_to_open(site: Site) -> None:
    body = {"parcelId": "CODE-2", "lockerId": "WAW-CENTRAL-01", "sizeClass": "S", "reserve": False}
    assert (await site.post("/v1/parcels", body, key="code-book-0002")).status_code == 201
    refused = await site.client.post("/v1/parcels/CODE-2/codes", json={}, headers=site.acme.auth())
    assert refused.status_code == 409
    other = await site.client.post("/v1/parcels/CODE-2/codes", json={}, headers=site.globex.auth())
    assert other.status_code == 404
