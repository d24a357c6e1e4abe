"""Bundles over a real gateway and database: all-or-none booking, the over-capacity problem,
replays, isolation, and one code for every door of the bundle."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.conftest import Site

WAW = "WAW-CENTRAL-01"  # 2 XS, 3 S, 3 M, 1 L, 1 XL


def bundle(bundle_id: str, *parcels: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "bundleId": bundle_id,
        "lockerId": WAW,
        "parcels": [{"parcelId": pid, "sizeClass": size} for pid, size in parcels],
        **extra,
    }


async def _available(site: Site) -> dict[str, int]:
    locker = (await site.get(f"/v1/lockers/{WAW}")).json()
    return {a["sizeClass"]: a["available"] for a in locker["availability"]}


def _problem(site: Site, response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    site.spec.validate("problem", body)
    assert body["code"] == code, body
    return body


async def test_a_bundle_books_every_parcel_at_once(site: Site) -> None:
    body = bundle(
        "ORDER-1",
        ("ORDER-1-A", "M"),
        ("ORDER-1-B", "S"),
        reference="order 1",
        pickupWindowSeconds=7200,
    )
    body["parcels"].append(
        {"parcelId": "ORDER-1-C", "dimensionsMm": {"length": 300, "width": 200, "height": 60}}
    )
    response = await site.post("/v1/bundles", body, key="bundle-order-1")

    assert response.status_code == 201, response.text
    assert response.headers["Location"] == "/v1/bundles/ORDER-1"
    created = response.json()
    site.spec.validate("bundle", created)
    assert (created["bundleId"], created["state"], created["reference"]) == (
        "ORDER-1",
        "pending",
        "order 1",
    )
    assert created["counts"] == {"total": 3, "waiting": 3, "inLocker": 0, "pickedUp": 0}
    assert [p["parcelId"] for p in created["parcels"]] == ["ORDER-1-A", "ORDER-1-B", "ORDER-1-C"]
    doors = [p["compartmentCode"] for p in created["parcels"]]
    assert len(set(doors)) == 3
    assert doors[0].startswith("M")
    # Each parcel is a parcel like any other: its own record, state and reference.
    for item in created["parcels"]:
        parcel = (await site.get(f"/v1/parcels/{item['parcelId']}")).json()
        assert (parcel["state"], parcel["reference"]) == ("reserved", "order 1")
        assert parcel["compartmentCode"] == item["compartmentCode"]
    # A replay answers the first body and books nothing again; another body is a conflict.
    replay = await site.post("/v1/bundles", body, key="bundle-order-1")
    assert (replay.status_code, replay.json()) == (201, created)
    other = await site.post("/v1/bundles", bundle("ORDER-1", ("X-1", "S")), key="bundle-order-1")
    _problem(site, other, 409, "IdempotencyConflict")
    again = await site.post("/v1/bundles", body, key="bundle-order-1-again")
    _problem(site, again, 409, "AlreadyExists")
    assert (await site.get("/v1/bundles/ORDER-1")).json() == created


async def test_a_bundle_over_capacity_is_refused_whole_and_names_the_parcels(site: Site) -> None:
    before = await _available(site)
    # One L and one XL compartment: the second XL parcel has nowhere to go.
    body = bundle("ORDER-2", ("ORDER-2-L", "L"), ("ORDER-2-X1", "XL"), ("ORDER-2-X2", "XL"))
    response = await site.post("/v1/bundles", body, key="bundle-order-2")

    problem = _problem(site, response, 409, "BundleOverCapacity")
    assert problem["errors"] == [
        {
            "pointer": "/parcels/2",
            "detail": "no free compartment takes this parcel (size XL or larger) "
            "besides those the others take",
        }
    ]
    assert "2 of its 3 parcels fit" in problem["detail"]
    assert "ORDER-2-X2" in problem["detail"]
    # What is free as the bundle is refused: every compartment (nothing stays held).
    free = ", ".join(f"{size} {count}" for size, count in before.items())
    assert problem["detail"].endswith(f"(free compartments now: {free})")
    # Nothing was booked: no parcel, no bundle, every compartment still free.
    for pid in ("ORDER-2-L", "ORDER-2-X1", "ORDER-2-X2"):
        assert (await site.get(f"/v1/parcels/{pid}")).status_code == 404
    assert (await site.get("/v1/bundles/ORDER-2")).status_code == 404
    assert await _available(site) == before
    # With room made (a smaller second parcel) the same bundle id books.
    fits = bundle("ORDER-2", ("ORDER-2-L", "L"), ("ORDER-2-X1", "XL"), ("ORDER-2-X2", "M"))
    assert (await site.post("/v1/bundles", fits, key="bundle-order-2b")).status_code == 201


async def test_the_largest_parcels_claim_compartments_first(site: Site) -> None:
    """An S parcel listed first must not take the last compartment a later L parcel needs:
    with every XS, S and M compartment taken, S would otherwise take the L."""
    fill = [
        (f"FILL-{i}", size) for i, size in enumerate(["XS", "XS", "S", "S", "S", "M", "M", "M"])
    ]
    assert (
        await site.post("/v1/bundles", bundle("FILL", *fill), key="bundle-fill")
    ).status_code == 201
    body = bundle("ORDER-3", ("ORDER-3-S", "S"), ("ORDER-3-L", "L"))
    response = await site.post("/v1/bundles", body, key="bundle-order-3")
    assert response.status_code == 201, response.text
    doors = [p["compartmentCode"] for p in response.json()["parcels"]]
    assert doors[0].startswith("X")  # the XL compartment, the only one left
    assert doors[1].startswith("L")


@pytest.mark.parametrize(
    ("body", "status", "code", "pointer"),
    [
        (
            bundle("B-1", ("DUP-1", "S"), ("DUP-1", "M")),
            422,
            "PropertyConstraintViolation",
            "/parcels/1/parcelId",
        ),
        (bundle("B-1"), 422, "PropertyConstraintViolation", "/parcels"),
        ({**bundle("B-1", ("P-1", "S")), "lockerId": "NOWHERE-1"}, 404, "NotFound", None),
        (
            bundle("B-1", *[(f"P-{i}", "XS") for i in range(21)]),
            422,
            "PropertyConstraintViolation",
            "/parcels",
        ),
        (bundle("B-1", ("P-1", "XXL")), 422, "PropertyConstraintViolation", "/parcels/0/sizeClass"),
        # A UPU S10 id with a wrong check digit: refused like the single booking, pointed at.
        (
            bundle("B-1", ("P-1", "S"), ("RR123456789DE", "S")),
            422,
            "PropertyConstraintViolation",
            "/parcels/1/parcelId",
        ),
        (
            {"bundleId": "B-1", "lockerId": WAW, "parcels": [{"parcelId": "P-1"}]},
            422,
            "PropertyConstraintViolation",
            "/parcels/0",
        ),
    ],
    ids=[
        "duplicate-parcel",
        "no-parcels",
        "unknown-locker",
        "too-many",
        "bad-size",
        "bad-s10",
        "no-size",
    ],
)
async def test_bad_bundles_get_a_specific_problem(
    site: Site, body: dict[str, Any], status: int, code: str, pointer: str | None
) -> None:
    before = await _available(site)
    response = await site.post("/v1/bundles", body, key="bundle-bad-1")
    problem = _problem(site, response, status, code)
    if pointer is not None:
        assert pointer in [e["pointer"] for e in problem.get("errors", [])], problem
    assert await _available(site) == before


async def test_a_parcel_id_taken_before_refuses_the_bundle_and_names_it(site: Site) -> None:
    alone = await site.post(
        "/v1/parcels", {"parcelId": "TAKEN-1", "lockerId": WAW, "sizeClass": "S"}, key="single-1"
    )
    assert alone.status_code == 201
    before = await _available(site)
    body = bundle("ORDER-4", ("ORDER-4-A", "S"), ("TAKEN-1", "S"))
    problem = _problem(
        site, await site.post("/v1/bundles", body, key="bundle-order-4"), 409, "AlreadyExists"
    )
    assert problem["errors"][0]["pointer"] == "/parcels/1"
    assert (await site.get("/v1/parcels/ORDER-4-A")).status_code == 404
    assert await _available(site) == before


async def test_another_carrier_sees_no_bundle(site: Site) -> None:
    body = bundle("ORDER-5", ("ORDER-5-A", "S"))
    assert (await site.post("/v1/bundles", body, key="bundle-order-5")).status_code == 201
    for response in (
        await site.get("/v1/bundles/ORDER-5", carrier=site.globex),
        await site.post("/v1/bundles/ORDER-5/codes", {}, carrier=site.globex),
    ):
        _problem(site, response, 404, "NotFound")


async def test_a_bundle_code_names_its_doors_and_refuses_an_opening_nothing_awaits(
    site: Site,
) -> None:
    body = bundle("ORDER-6", ("ORDER-6-A", "S"), ("ORDER-6-B", "M"))
    created = (await site.post("/v1/bundles", body, key="bundle-order-6")).json()
    response = await site.post("/v1/bundles/ORDER-6/codes", {})
    assert response.status_code == 201, response.text
    code = response.json()
    site.spec.validate("bundle-code", code)
    assert code["purpose"] == "deposit"
    assert code["parcelIds"] == ["ORDER-6-A", "ORDER-6-B"]
    assert code["compartmentCodes"] == [p["compartmentCode"] for p in created["parcels"]]
    parcel = (await site.get("/v1/parcels/ORDER-6-A")).json()
    assert code["expiresAt"] == parcel["reservedUntil"]
    # Nothing is in the locker yet: there is no pickup to open.
    pickup = await site.post("/v1/bundles/ORDER-6/codes", {"purpose": "pickup"})
    _problem(site, pickup, 409, "IllegalTransition")
    bad = await site.post("/v1/bundles/ORDER-6/codes", {"purpose": "collect"})
    _problem(site, bad, 422, "PropertyConstraintViolation")
    missing = await site.post("/v1/bundles/NO-SUCH/codes", {})
    _problem(site, missing, 404, "NotFound")
