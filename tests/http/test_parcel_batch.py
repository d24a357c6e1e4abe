"""Batch pre-advice over a real gateway and database: per-item results, replays, races, limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from tests.http.conftest import NETWORK, Site, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock

BATCH = "/v1/parcels:batch"
WAW = "WAW-CENTRAL-01"  # 2 XS, 3 S, 3 M, 1 L, 1 XL


def parcel(parcel_id: Any, size: str = "S", locker: str = WAW, **extra: Any) -> dict[str, Any]:
    return {"parcelId": parcel_id, "lockerId": locker, "sizeClass": size, **extra}


MIXED = [
    parcel("B-OK-1", reference="first"),  # 0 booked
    parcel("B-XL-1", "XL"),  # 1 booked: the only XL compartment
    parcel("B-XL-2", "XL"),  # 2 no capacity left
    parcel("B-OK-1"),  # 3 the parcel id of item 0 again
    parcel("B-LOST", locker="NOWHERE-1"),  # 4 unknown locker
    parcel(5150, weightG="heavy"),  # 5 wrong types
    "not a parcel",  # 6 not even an object
    parcel("B-BOOKED-BEFORE"),  # 7 booked alone before the batch
    parcel("B-OK-2", "M"),  # 8 booked, after all the refusals
]


async def _parcel_ids(site: Site) -> list[str]:
    response = await site.get("/v1/parcels", limit=200)
    assert response.status_code == 200
    return sorted(p["parcelId"] for p in response.json()["items"])


async def _available(site: Site) -> dict[str, int]:
    locker = (await site.get(f"/v1/lockers/{WAW}")).json()
    return {a["sizeClass"]: a["available"] for a in locker["availability"]}


async def test_mixed_batch_answers_each_item_alone(site: Site) -> None:
    hook = await site.post(
        "/v1/webhooks", {"url": "https://hooks.acme.example/olp"}, key="hook-key-1"
    )
    assert hook.status_code == 201, hook.text
    alone = await site.post("/v1/parcels", parcel("B-BOOKED-BEFORE"), key="single-before-1")
    assert alone.status_code == 201
    before = await _available(site)

    response = await site.post(BATCH, {"parcels": MIXED}, key="batch-mixed-1")

    assert response.status_code == 200, response.text
    body = response.json()
    site.spec.validate("parcel-batch-result", body)
    items = body["items"]
    assert [i["index"] for i in items] == list(range(len(MIXED)))
    assert [i["status"] for i in items] == [201, 201, 409, 409, 404, 422, 422, 409, 201]
    assert (body["accepted"], body["refused"]) == (3, 6)
    codes = {i["index"]: i["problem"]["code"] for i in items if "problem" in i}
    assert codes == {
        2: "NoCompartmentAvailable",
        3: "AlreadyExists",
        4: "NotFound",
        5: codes[5],  # the schema's own code for a wrong type, as the single POST gives it
        6: codes[6],
        7: "AlreadyExists",
    }
    assert {i["pointer"] for i in items if "problem" in i} == {
        f"/parcels/{n}" for n in (2, 3, 4, 5, 6, 7)
    }
    # A field error points into the batch body, at the entry's own member.
    pointers = {e["pointer"] for e in items[5]["problem"]["errors"]}
    assert pointers & {"/parcels/5/parcelId", "/parcels/5/weightG"}, pointers
    assert items[0]["parcel"]["reference"] == "first"
    assert items[1]["parcel"]["compartmentCode"] is not None

    # The same entry alone gets the same problem code from the single endpoint.
    single = await site.post("/v1/parcels", MIXED[5], key="single-wrong-types")
    assert single.status_code == 422
    assert single.json()["code"] == codes[5]

    # Every accepted item's Location answers with the parcel the batch returned.
    for item in (items[0], items[1], items[8]):
        followed = await site.get(item["location"])
        assert followed.status_code == 200
        assert followed.json() == item["parcel"]
    assert await _parcel_ids(site) == ["B-BOOKED-BEFORE", "B-OK-1", "B-OK-2", "B-XL-1"]
    # A refused item gave back what it had claimed (item 3 took an S door before its parcel
    # id was found taken): only the accepted items hold compartments.
    after = await _available(site)
    assert {size: before[size] - after[size] for size in before} == {
        "XS": 0,
        "S": 1,
        "M": 1,
        "L": 0,
        "XL": 1,
    }

    # Accepted items record the events and webhook rows a single booking records; the
    # refused ones none.
    async def history(parcel_id: str) -> list[str]:
        events = (await site.get(f"/v1/parcels/{parcel_id}/events")).json()["items"]
        return [e["type"] for e in events]

    assert await history("B-OK-1") == await history("B-BOOKED-BEFORE") != []
    async with site.gateway.store.transaction() as tx:
        rows, _ = await tx.outbox.page_all_targets(carrier_id="acme", limit=100)
    by_parcel: dict[str, list[str]] = {}
    for row in rows:
        by_parcel.setdefault(row.parcel_uid, []).append(row.type)
    assert len(by_parcel) == 4, by_parcel  # the parcel booked alone and the three accepted
    assert len({tuple(sorted(types)) for types in by_parcel.values()}) == 1


async def test_replay_answers_the_first_results_and_books_nothing_twice(site: Site) -> None:
    body = {"parcels": [parcel("R-1"), parcel("R-2", "M"), parcel("R-3", locker="NOWHERE")]}
    unkeyed = await site.post(BATCH, body)
    assert unkeyed.status_code == 400
    assert unkeyed.json()["code"] == "IdempotencyKeyMissing"
    assert await _parcel_ids(site) == []

    first = await site.post(BATCH, body, key="batch-replay-1")
    assert first.status_code == 200
    booked = await _parcel_ids(site)

    replay = await site.post(BATCH, body, key="batch-replay-1")

    assert replay.status_code == 200
    assert replay.json() == first.json()
    assert await _parcel_ids(site) == booked == ["R-1", "R-2"]
    # The same key with another body is the conflict the single endpoint answers.
    other = await site.post(BATCH, {"parcels": [parcel("R-9")]}, key="batch-replay-1")
    assert other.status_code == 409
    assert other.json()["code"] == "IdempotencyConflict"
    assert await _parcel_ids(site) == booked


async def test_concurrent_batches_with_one_key_book_once(site: Site) -> None:
    body = {"parcels": [parcel(f"C-{n}", "S" if n < 3 else "M") for n in range(6)]}

    answers = await asyncio.gather(*[site.post(BATCH, body, key="batch-race-1") for _ in range(4)])

    assert {a.status_code for a in answers} == {200}
    first = answers[0].json()
    assert all(a.json() == first for a in answers)
    assert first["accepted"] == 6
    assert await _parcel_ids(site) == [f"C-{n}" for n in range(6)]


@pytest.fixture
async def small_site(database_url: str) -> AsyncIterator[Site]:
    """A network with batches of at most 5 entries and 3000 bytes, other bodies 2 KiB."""
    acme = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    settings = settings_for(
        database_url, max_body_bytes=2048, parcels={"batch_max": 5, "batch_max_body_bytes": 3000}
    )
    async with Gateway(settings=settings, clock=clock) as gateway:
        await gateway.carriers.register("acme", acme.jwks, "ACME Parcel")
        await provision(gateway, "waw-central.yaml")
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=30) as client:
            yield Site(gateway, client, acme, acme, gateway.spec, clock)


async def test_batch_limits_are_the_configured_ones(small_site: Site) -> None:
    body = {"parcels": [parcel(f"L-{n}") for n in range(6)]}

    response = await small_site.post(BATCH, body, key="batch-limit-1")

    assert response.status_code == 413
    problem = response.json()
    assert problem["code"] == "PayloadTooLarge"
    assert "at most 5 parcels" in problem["detail"]
    assert "batch_max" in problem["detail"]
    assert await _parcel_ids(small_site) == []
    # At the limit it is booked (by capacity), so the limit is exactly the setting.
    ok = await small_site.post(BATCH, {"parcels": body["parcels"][:5]}, key="batch-limit-2")
    assert ok.status_code == 200
    assert ok.json()["accepted"] == 5

    # A batch may outgrow the single request's body limit ([http] max_body_bytes, 2 KiB here):
    # it reads up to [parcels] batch_max_body_bytes.
    entries = [parcel(f"BIG-{n}", "M", reference="r" * 64, recipient=_someone(n)) for n in range(5)]
    assert len(httpx.Request("POST", "/", json={"parcels": entries}).content) > 2048
    alone = {**entries[0], "parcelId": "BIG-ALONE", "pad": "p" * 2048}
    too_big = await small_site.post("/v1/parcels", alone, key="single-big")
    assert too_big.status_code == 413  # the single endpoint keeps its limit
    big = await small_site.post(BATCH, {"parcels": entries}, key="batch-big-1")
    assert big.status_code == 200, big.text
    # 5 booked before, then 3 M, 1 L, 1 XL: the other M-or-larger doors are taken.
    assert [i["status"] for i in big.json()["items"]] == [201] * 3 + [409] * 2
    # Past batch_max_body_bytes the batch is refused whole, as any body past its limit.
    padded = [{**e, "parcelId": f"PAD-{n}", "pad": "p" * 200} for n, e in enumerate(entries)]
    assert len(httpx.Request("POST", "/", json={"parcels": padded}).content) > 3000
    too_big = await small_site.post(BATCH, {"parcels": padded}, key="batch-big-2")
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "PayloadTooLarge"


def _someone(n: int) -> dict[str, str]:
    return {"name": "n" * 200, "email": f"{'e' * 60}{n}@example.com"}
