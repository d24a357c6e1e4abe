"""Idempotency-Key: a replay returns the first answer; another body under the key is a 409."""

from __future__ import annotations

import asyncio

from tests.http.conftest import Site

BODY = {"parcelId": "IDEM-1", "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"}


async def test_replay_returns_the_first_answer_even_after_changes(site: Site) -> None:
    first = await site.post("/v1/parcels", BODY, key="idem-key-0001")
    assert first.status_code == 201
    await site.post("/v1/parcels/IDEM-1/cancel", {}, key="idem-key-0002")
    replay = await site.post("/v1/parcels", BODY, key="idem-key-0001")
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.json()["state"] == "reserved"  # the first answer, not today's state


async def test_same_key_other_body_is_409(site: Site) -> None:
    assert (await site.post("/v1/parcels", BODY, key="idem-key-0003")).status_code == 201
    other = await site.post("/v1/parcels", {**BODY, "sizeClass": "M"}, key="idem-key-0003")
    assert other.status_code == 409
    assert other.json()["code"] == "IdempotencyConflict"


async def test_keys_are_per_carrier(site: Site) -> None:
    assert (await site.post("/v1/parcels", BODY, key="idem-key-0004")).status_code == 201
    theirs = await site.post("/v1/parcels", BODY, key="idem-key-0004", carrier=site.globex)
    assert theirs.status_code == 201  # globex's own parcel IDEM-1, not a replay of acme's


async def test_missing_or_malformed_key_is_400(site: Site) -> None:
    missing = await site.post("/v1/parcels", BODY)
    assert missing.status_code == 400
    assert missing.json()["code"] == "IdempotencyKeyMissing"
    short = await site.post("/v1/parcels", BODY, key="short")
    assert short.status_code == 400


async def test_concurrent_duplicates_book_once(site: Site) -> None:
    answers = await asyncio.gather(
        *(site.post("/v1/parcels", BODY, key="idem-key-0005") for _ in range(10))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.text for a in answers}) == 1
    listing = (await site.get("/v1/parcels")).json()
    assert [p["parcelId"] for p in listing["items"]] == ["IDEM-1"]
