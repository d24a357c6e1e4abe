"""The carrier parcel API through a real server: booking, reads, actions, history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from gateway.domain.enums import ParcelAction
from tests.http.conftest import Site


def key() -> str:
    return uuid.uuid4().hex


async def book(site: Site, parcel_id: str, **extra: object) -> dict[str, object]:
    body = {"parcelId": parcel_id, "lockerId": "WAW-CENTRAL-01", "sizeClass": "S", **extra}
    response = await site.post("/v1/parcels", body, key=key())
    assert response.status_code == 201, response.text
    parcel: dict[str, object] = response.json()
    site.spec.validate("parcel", parcel)
    return parcel


async def test_booking_reserves_the_smallest_fitting_compartment(site: Site) -> None:
    parcel = await book(site, "ACME-0001", reference="order 42")
    assert parcel["state"] == "reserved"
    assert parcel["compartmentCode"] == "S01"
    assert parcel["lockerId"] == "WAW-CENTRAL-01"
    assert parcel["reference"] == "order 42"
    assert parcel["reservedUntil"] is not None

    detail = (await site.get("/v1/lockers/WAW-CENTRAL-01")).json()
    small = next(a for a in detail["availability"] if a["sizeClass"] == "S")
    assert small == {"sizeClass": "S", "available": 2, "total": 3}


async def test_booking_by_dimensions_and_weight(site: Site) -> None:
    # 300 x 350 x 500 mm does not fit S (190 mm high) but fits M.
    body = {
        "parcelId": "ACME-DIM",
        "lockerId": "WAW-CENTRAL-01",
        "dimensionsMm": {"length": 500, "width": 350, "height": 300},
        "weightG": 4000,
    }
    response = await site.post("/v1/parcels", body, key=key())
    assert response.status_code == 201, response.text
    assert response.json()["compartmentCode"] == "M01"
    too_heavy = {**body, "parcelId": "ACME-HEAVY", "weightG": 90_000}
    refused = await site.post("/v1/parcels", too_heavy, key=key())
    assert refused.status_code == 409
    assert refused.json()["code"] == "NoCompartmentAvailable"


async def test_full_locker_answers_409_and_books_nothing(site: Site) -> None:
    for n in range(2):
        await book(site, f"KRK-{n}", lockerId="KRK-MAIN-01", sizeClass="M")
    response = await site.post(
        "/v1/parcels",
        {"parcelId": "KRK-9", "lockerId": "KRK-MAIN-01", "sizeClass": "M"},
        key=key(),
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await site.get("/v1/parcels/KRK-9")).status_code == 404


async def test_get_list_filter_and_cursor_paging(site: Site) -> None:
    ids = [f"ACME-P{n}" for n in range(5)]
    for pid in ids:
        await book(site, pid, sizeClass="XS" if pid.endswith(("0", "1")) else "M")
    await site.post("/v1/parcels/ACME-P0/cancel", {}, key=key())

    one = await site.get("/v1/parcels/ACME-P3")
    assert one.status_code == 200
    assert one.json()["parcelId"] == "ACME-P3"

    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (
            await site.client.get("/v1/parcels", params=params, headers=site.acme.auth())
        ).json()
        site.spec.validate("parcel-list", page)
        seen += [p["parcelId"] for p in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert seen == ids

    cancelled = (await site.get("/v1/parcels", state="cancelled")).json()
    assert [p["parcelId"] for p in cancelled["items"]] == ["ACME-P0"]
    bad = await site.get("/v1/parcels", state="lost")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/query/state"


async def test_cancel_frees_the_compartment_and_a_second_cancel_is_illegal(site: Site) -> None:
    parcel = await book(site, "ACME-C1")
    response = await site.post("/v1/parcels/ACME-C1/cancel", {"reason": "customer"}, key=key())
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    assert response.json()["compartmentCode"] is None
    again = await site.post("/v1/parcels/ACME-C1/cancel", {}, key=key())
    assert again.status_code == 409
    assert again.json()["code"] == "IllegalTransition"
    # The freed compartment is the first offered again.
    assert (await book(site, "ACME-C2"))["compartmentCode"] == parcel["compartmentCode"]


async def test_announce_without_reserving_then_reserve(site: Site) -> None:
    parcel = await book(site, "ACME-A1", reserve=False)
    assert parcel["state"] == "announced"
    assert parcel["compartmentCode"] is None
    reserved = await site.post("/v1/parcels/ACME-A1/reserve", {}, key=key())
    assert reserved.status_code == 200
    assert reserved.json()["state"] == "reserved"
    assert reserved.json()["compartmentCode"] == "S01"


async def test_extend_pickup_window_after_deposit(site: Site) -> None:
    await book(site, "ACME-E1")
    early = await site.post(
        "/v1/parcels/ACME-E1/extend", {"pickupUntil": "2099-01-01T00:00:00Z"}, key=key()
    )
    assert early.status_code == 409  # not deposited yet

    stored = await site.gateway.parcels.get("acme", "ACME-E1")
    await site.gateway.parcels.apply_action(stored.uid, ParcelAction.DEPOSIT)
    deposited = (await site.get("/v1/parcels/ACME-E1")).json()
    assert deposited["state"] == "ready_for_pickup"

    later = datetime.now(UTC) + timedelta(days=10)
    stamp = later.isoformat().replace("+00:00", "Z")
    response = await site.post("/v1/parcels/ACME-E1/extend", {"pickupUntil": stamp}, key=key())
    assert response.status_code == 200, response.text
    assert datetime.fromisoformat(response.json()["pickupUntil"]) > later - timedelta(seconds=1)


async def test_redirect_books_a_new_parcel_at_another_locker(site: Site) -> None:
    await book(site, "ACME-R1", sizeClass="M")
    stored = await site.gateway.parcels.get("acme", "ACME-R1")
    await site.gateway.parcels.apply_action(stored.uid, ParcelAction.DEPOSIT)
    response = await site.post(
        "/v1/parcels/ACME-R1/redirect",
        {"lockerId": "KRK-MAIN-01", "newParcelId": "ACME-R1-KRK"},
        key=key(),
    )
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["parcelId"] == "ACME-R1-KRK"
    assert new["lockerId"] == "KRK-MAIN-01"
    assert new["state"] == "reserved"
    assert new["redirectedFrom"] == "ACME-R1"
    old = (await site.get("/v1/parcels/ACME-R1")).json()
    assert old["state"] == "redirected"
    assert old["redirectedTo"] == "ACME-R1-KRK"


async def test_first_mile_dropoff_reserves_at_once(site: Site) -> None:
    parcel = await book(site, "ACME-F1", direction="first_mile")
    assert parcel["state"] == "dropoff_announced"
    assert parcel["compartmentCode"] == "S01"
    refused = await site.post(
        "/v1/parcels",
        {
            "parcelId": "ACME-F2",
            "lockerId": "WAW-CENTRAL-01",
            "sizeClass": "S",
            "direction": "first_mile",
            "reserve": False,
        },
        key=key(),
    )
    assert refused.status_code == 422


async def test_event_history_records_every_transition(site: Site) -> None:
    await book(site, "ACME-H1")
    await site.post("/v1/parcels/ACME-H1/cancel", {}, key=key())
    history = (await site.get("/v1/parcels/ACME-H1/events")).json()
    site.spec.validate("parcel-event-list", history)
    assert [(e["seq"], e["toState"]) for e in history["items"]] == [
        (1, "announced"),
        (2, "reserved"),
        (3, "cancelled"),
    ]
    assert history["items"][1]["fromState"] == "announced"


async def test_upu_s10_ids_are_checked(site: Site) -> None:
    good = await book(site, "RA123456785GB")
    assert good["parcelId"] == "RA123456785GB"
    bad = await site.post(
        "/v1/parcels",
        {"parcelId": "RA123456784GB", "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"},
        key=key(),
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "/parcelId"
    assert "expected 5" in bad.json()["errors"][0]["detail"]


async def test_duplicate_parcel_id_is_409(site: Site) -> None:
    await book(site, "ACME-D1")
    again = await site.post(
        "/v1/parcels",
        {"parcelId": "ACME-D1", "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"},
        key=key(),
    )
    assert again.status_code == 409
    assert again.json()["code"] == "AlreadyExists"


async def test_expiry_runs_from_housekeeping(site: Site) -> None:
    await book(site, "ACME-X1", reservationTtlSeconds=60)
    site.clock.advance(61)
    assert await site.gateway.parcels.expire_due() == 1
    assert (await site.get("/v1/parcels/ACME-X1")).json()["state"] == "reservation_expired"
