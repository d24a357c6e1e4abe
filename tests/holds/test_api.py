"""Pre-check and soft holds through the real HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx

from tests.http.conftest import Site
from tests.support.problems import problem

WAW, KRK = "WAW-CENTRAL-01", "KRK-MAIN-01"  # KRK-MAIN-01: two M compartments, nothing else


def key() -> str:
    return uuid.uuid4().hex


async def precheck(site: Site, locker: str = KRK, **params: Any) -> httpx.Response:
    return await site.get(f"/v1/lockers/{locker}/precheck", **params)


async def hold(site: Site, locker: str = KRK, **extra: Any) -> dict[str, Any]:
    body = {"lockerId": locker, "sizeClass": "M", **extra}
    response = await site.post("/v1/holds", body, key=key())
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    site.spec.validate("hold", answer)
    assert response.headers["Location"] == f"/v1/holds/{answer['holdId']}"
    return answer


async def book(
    site: Site, parcel_id: str, locker: str = KRK, *, carrier: Any = None, **extra: Any
) -> httpx.Response:
    body = {"parcelId": parcel_id, "lockerId": locker, "sizeClass": "M", **extra}
    return await site.post("/v1/parcels", body, key=key(), carrier=carrier)


async def test_precheck_answers_for_size_class_and_dimensions_without_booking(site: Site) -> None:
    answer = await precheck(site, WAW, lengthMm=500, widthMm=350, heightMm=300, weightG=4000)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    site.spec.validate("precheck-result", body)
    assert (body["verdict"], body["sizeClass"]) == ("accepted", "M")
    assert [c["sizeClass"] for c in body["classes"]] == ["M", "L", "XL"]
    assert body["classes"][0] == {
        "sizeClass": "M",
        "fitting": 3,
        "available": 3,
        "held": 0,
        "spare": 3,
    }
    too_big = (await precheck(site, KRK, sizeClass="L")).json()
    assert (too_big["verdict"], too_big["sizeClass"], too_big["classes"]) == (
        "does_not_fit",
        None,
        [],
    )
    heavy = (await precheck(site, WAW, sizeClass="XS", weightG=90_000)).json()
    assert heavy["verdict"] == "does_not_fit"
    # Asking booked nothing.
    locker = (await site.get(f"/v1/lockers/{WAW}")).json()
    assert all(a["available"] == a["total"] for a in locker["availability"])


async def test_a_hold_keeps_its_capacity_from_everyone_else_and_converts_on_booking(
    site: Site,
) -> None:
    first = await hold(site, reference="checkout 1")
    assert (first["state"], first["sizeClass"], first["parcelId"]) == ("active", "M", None)
    assert first["reference"] == "checkout 1"
    second = await hold(site)
    # Both M compartments of KRK are held: a pre-check, a third hold and any booking without
    # a hold (by either carrier) find the locker full, though both doors are free.
    full = (await precheck(site, sizeClass="M")).json()
    assert full["verdict"] == "full"
    assert full["classes"] == [
        {"sizeClass": "M", "fitting": 2, "available": 2, "held": 2, "spare": 0}
    ]
    refused = problem(
        await site.post("/v1/holds", {"lockerId": KRK, "sizeClass": "M"}, key=key()),
        409,
        "NoCompartmentAvailable",
    )
    assert "is full for such a parcel" in refused["detail"]
    assert "2 M held" in refused["detail"]
    unheld = problem(
        await book(site, "GLOBEX-1", carrier=site.globex), 409, "NoCompartmentAvailable"
    )
    assert "held by soft holds (2 M held)" in unheld["detail"]
    # The hold's own parcel gets a compartment of the held class; the hold is converted.
    booked = await book(site, "ACME-H1", holdId=first["holdId"])
    assert booked.status_code == 201, booked.text
    assert (booked.json()["state"], booked.json()["compartmentCode"]) == ("reserved", "M01")
    converted = (await site.get(f"/v1/holds/{first['holdId']}")).json()
    site.spec.validate("hold", converted)
    assert (converted["state"], converted["parcelId"]) == ("converted", "ACME-H1")
    assert converted["endedAt"] is not None
    # Used once: a second parcel with the same hold is refused, specifically.
    again = problem(await book(site, "ACME-H2", holdId=first["holdId"]), 409, "HoldNotActive")
    assert again["detail"] == f"hold {first['holdId']} is converted, not active"
    # The second hold still keeps the last M from a booking without it.
    problem(await book(site, "ACME-H3"), 409, "NoCompartmentAvailable")
    assert (await book(site, "ACME-H4", holdId=second["holdId"])).status_code == 201


async def test_an_expired_hold_stops_counting_and_ends_with_its_event(site: Site) -> None:
    held = await hold(site, ttlSeconds=60)
    await hold(site, ttlSeconds=600)
    problem(await book(site, "ACME-E0"), 409, "NoCompartmentAvailable")
    # A pre-check for a time after the first hold's expiry counts only the second.
    later = site.clock() + timedelta(seconds=120)
    ahead = (await precheck(site, sizeClass="M", at=later.isoformat())).json()
    assert (ahead["verdict"], ahead["classes"][0]["held"]) == ("accepted", 1)
    # The same instant written with an unencoded "+" offset (read as a space) means the same.
    raw = f"/v1/lockers/{KRK}/precheck?sizeClass=M&at={later.isoformat()}"
    unencoded = (await site.client.get(raw, headers=site.acme.auth())).json()
    assert unencoded == ahead
    site.clock.advance(61)
    # Past its TTL the hold no longer counts, even before the sweep has ended it...
    assert (await book(site, "ACME-E1")).status_code == 201
    expired = problem(await book(site, "ACME-E2", holdId=held["holdId"]), 409, "HoldNotActive")
    assert "expired at" in expired["detail"]
    assert (await site.get(f"/v1/holds/{held['holdId']}")).json()["state"] == "active"
    # ... which ends it once, whichever instance sweeps.
    assert await site.gateway.holds.expire_due() == 1
    assert await site.gateway.holds.expire_due() == 0
    ended = (await site.get(f"/v1/holds/{held['holdId']}")).json()
    assert (ended["state"], ended["endedAt"]) == ("expired", ended["expiresAt"])


async def test_release_gives_the_capacity_back_once(site: Site) -> None:
    held = await hold(site)
    await hold(site)
    path = f"/v1/holds/{held['holdId']}/release"
    release_key = key()
    released = await site.post(path, {}, key=release_key)
    assert released.status_code == 200, released.text
    site.spec.validate("hold", released.json())
    assert released.json()["state"] == "released"
    replay = await site.post(path, {}, key=release_key)
    assert replay.json() == released.json()
    problem(await site.post(path, {}, key=key()), 409, "HoldNotActive")
    assert (await book(site, "ACME-R1")).status_code == 201
    # Another carrier sees no such hold, and cannot release it.
    other = await site.post(path, {}, key=key(), carrier=site.globex)
    problem(other, 404, "NotFound")
    problem(await site.get(f"/v1/holds/{held['holdId']}", carrier=site.globex), 404, "NotFound")


async def test_announced_with_a_hold_the_parcel_keeps_it_until_reserved_or_cancelled(
    site: Site,
) -> None:
    kept = await hold(site, ttlSeconds=60)
    waiting = await book(site, "ACME-W1", holdId=kept["holdId"], reserve=False)
    assert waiting.status_code == 201, waiting.text
    assert (waiting.json()["state"], waiting.json()["compartmentCode"]) == ("announced", None)
    attached = (await site.get(f"/v1/holds/{kept['holdId']}")).json()
    assert (attached["state"], attached["parcelId"]) == ("active", "ACME-W1")
    await hold(site, ttlSeconds=60)  # the other M
    problem(await book(site, "GLOBEX-W", carrier=site.globex), 409, "NoCompartmentAvailable")
    # Reserving takes the held class and converts the hold.
    reserved = await site.post("/v1/parcels/ACME-W1/reserve", {}, key=key())
    assert reserved.status_code == 200, reserved.text
    assert reserved.json()["compartmentCode"] is not None
    assert (await site.get(f"/v1/holds/{kept['holdId']}")).json()["state"] == "converted"

    # A parcel cancelled while it waits gives its hold back.
    site.clock.advance(61)  # every hold above has expired
    again = await hold(site, WAW, sizeClass="XL")
    assert (
        await book(site, "ACME-W2", WAW, sizeClass="XL", holdId=again["holdId"], reserve=False)
    ).status_code == 201
    problem(await book(site, "ACME-W3", WAW, sizeClass="XL"), 409, "NoCompartmentAvailable")
    cancelled = await site.post("/v1/parcels/ACME-W2/cancel", {}, key=key())
    assert cancelled.status_code == 200, cancelled.text
    released = (await site.get(f"/v1/holds/{again['holdId']}")).json()
    assert (released["state"], released["parcelId"]) == ("released", "ACME-W2")
    assert (await book(site, "ACME-W3", WAW, sizeClass="XL")).status_code == 201


async def test_a_hold_is_refused_for_another_locker_a_larger_parcel_or_another_carrier(
    site: Site,
) -> None:
    small = await hold(site, WAW, sizeClass="S")
    elsewhere = problem(
        await book(site, "ACME-X1", KRK, holdId=small["holdId"]), 422, "PropertyConstraintViolation"
    )
    assert elsewhere["errors"][0]["pointer"] == "/holdId"
    larger = problem(
        await book(site, "ACME-X2", WAW, sizeClass="L", holdId=small["holdId"]),
        422,
        "PropertyConstraintViolation",
    )
    assert larger["errors"][0]["pointer"] == "/holdId"
    assert "does not fit the size class S" in larger["detail"]
    theirs = await book(
        site, "GLOBEX-X", WAW, sizeClass="S", holdId=small["holdId"], carrier=site.globex
    )
    problem(theirs, 404, "NotFound")
    # None of the refusals used the hold up.
    assert (
        await book(site, "ACME-X3", WAW, sizeClass="S", holdId=small["holdId"])
    ).status_code == 201


async def test_bad_input_gets_specific_problems(site: Site) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "/query/sizeClass"),
        ({"lengthMm": 100, "widthMm": 100}, "/query/heightMm"),
        ({"sizeClass": "XXL"}, "/query/sizeClass"),
        ({"sizeClass": "S", "weightG": 0}, "/query/weightG"),
        ({"sizeClass": "S", "at": "tomorrow"}, "/query/at"),
        ({"sizeClass": "S", "at": "2020-01-01T00:00:00Z"}, "/query/at"),
        ({"sizeClass": "S", "at": (site.clock() + timedelta(days=8)).isoformat()}, "/query/at"),
        ({"sizeClass": "S", "color": "red"}, "/query/color"),
    ]
    for params, pointer in cases:
        body = problem(await precheck(site, WAW, **params), 422, "PropertyConstraintViolation")
        assert body["errors"][0]["pointer"] == pointer, (params, body)
    problem(await precheck(site, "NOWHERE-1", sizeClass="S"), 404, "NotFound")
    bodies: list[tuple[dict[str, Any], str]] = [
        ({"lockerId": WAW}, ""),
        ({"lockerId": WAW, "sizeClass": "S", "ttlSeconds": 10}, "/ttlSeconds"),
        ({"lockerId": WAW, "sizeClass": "S", "ttlSeconds": 604800}, "/ttlSeconds"),
    ]
    for sent, pointer in bodies:
        refused = problem(
            await site.post("/v1/holds", sent, key=key()), 422, "PropertyConstraintViolation"
        )
        assert refused["errors"][0]["pointer"] == pointer, refused
    problem(
        await site.post("/v1/holds", {"lockerId": "NOWHERE-1", "sizeClass": "S"}, key=key()),
        404,
        "NotFound",
    )
    huge = {"lockerId": KRK, "sizeClass": "XL"}
    too_big = problem(await site.post("/v1/holds", huge, key=key()), 409, "NoCompartmentAvailable")
    assert "too large or too heavy" in too_big["detail"]
    missing = problem(await book(site, "ACME-B1", holdId=str(uuid.uuid4())), 404, "NotFound")
    assert "hold" in missing["detail"]
    problem(await book(site, "ACME-B2", holdId="not-a-uuid"), 422, "PropertyConstraintViolation")
    problem(
        await site.post("/v1/holds", {"lockerId": WAW, "sizeClass": "S"}),
        400,
        "IdempotencyKeyMissing",
    )


async def test_holds_are_listed_newest_first_page_by_page(site: Site) -> None:
    made = [await hold(site, WAW, sizeClass="XS", reference=f"r{n}") for n in range(3)]
    await hold(site, KRK)
    release = f"/v1/holds/{made[0]['holdId']}/release"
    assert (await site.post(release, {}, key=key())).status_code == 200
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"lockerId": WAW, "limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await site.get("/v1/holds", **params)
        assert page.status_code == 200, page.text
        site.spec.validate("hold-list", page.json())
        seen += [h["holdId"] for h in page.json()["items"]]
        cursor = page.json()["nextCursor"]
        if cursor is None:
            break
    assert seen == [h["holdId"] for h in reversed(made)]
    active = (await site.get("/v1/holds", state="active", lockerId=WAW)).json()["items"]
    assert [h["holdId"] for h in active] == [h["holdId"] for h in reversed(made[1:])]
    assert (await site.get("/v1/holds", carrier=site.globex)).json()["items"] == []
    for params in ({"cursor": "bm90LWEtY3Vyc29y"}, {"state": "gone"}, {"limit": 0}):
        problem(await site.get("/v1/holds", **params), 422, "PropertyConstraintViolation")
