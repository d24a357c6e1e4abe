"""Returns without a label through the real carrier API, on SQLite and PostgreSQL: the
announcement (a drop-off code and QR), the courier's label, and each refusal's problem."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from gateway.tokens.grants import token_from_qr
from tests.http.conftest import Site
from tests.support.problems import problem

WAW = "WAW-CENTRAL-01"


async def announce(site: Site, reference: str, **extra: Any) -> dict[str, Any]:
    body = {"lockerId": WAW, "reference": reference, "sizeClass": "S", **extra}
    response = await site.post("/v1/returns", body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    site.spec.validate("return", answer)
    assert response.headers["Location"] == f"/v1/returns/{answer['returnId']}"
    return answer


async def bind(site: Site, return_id: str, label: str, **kw: Any) -> httpx.Response:
    return await site.post(f"/v1/returns/{return_id}/label", {"label": label}, **kw)


async def test_announce_reserves_a_compartment_and_hands_out_code_and_qr(site: Site) -> None:
    ret = await announce(site, "RMA-1001", validForSeconds=3 * 86400)
    rid = ret["returnId"]
    assert ret["state"] == "awaiting_dropoff"
    assert ret["parcelId"] == rid  # no label yet: the return id stands in
    assert ret["parcelState"] == "dropoff_announced"
    assert ret["compartmentCode"] is not None
    assert (ret["label"], ret["labelSource"], ret["labelBoundAt"]) == (None, None, None)
    assert ret["code"].isdigit()
    assert len(ret["code"]) == 8
    assert ret["codeExpiresAt"] == ret["dropoffUntil"]
    token_from_qr(ret["qr"])  # a drop-off grant's QR text (raises if not one)

    parcel = (await site.get(f"/v1/parcels/{rid}")).json()
    assert (parcel["direction"], parcel["state"], parcel["reference"]) == (
        "first_mile",
        "dropoff_announced",
        "RMA-1001",
    )
    read = await site.get(f"/v1/returns/{rid}")
    assert read.status_code == 200
    site.spec.validate("return", read.json())
    assert not {"code", "qr", "codeExpiresAt", "qrExpiresAt"} & set(read.json())

    again = await site.post(f"/v1/returns/{rid}/code", {})
    assert again.status_code == 201, again.text
    site.spec.validate("return", again.json())
    assert again.json()["code"] != ret["code"]


async def test_the_courier_binds_the_label_which_becomes_the_parcel_id(site: Site) -> None:
    rid = (await announce(site, "RMA-2002"))["returnId"]
    bound = await bind(site, rid, "RA123456785GB")
    assert bound.status_code == 200, bound.text
    body = bound.json()
    site.spec.validate("return", body)
    assert (body["parcelId"], body["label"], body["labelSource"]) == (
        "RA123456785GB",
        "RA123456785GB",
        "courier",
    )
    assert body["labelBoundAt"] is not None
    assert (await site.get("/v1/parcels/RA123456785GB")).json()["reference"] == "RMA-2002"
    problem(await site.get(f"/v1/parcels/{rid}"), 404, "NotFound")
    # The same label again is the same answer; another label is refused.
    assert (await bind(site, rid, "RA123456785GB")).json() == body
    refused = problem(await bind(site, rid, "ACME-OTHER-1"), 409, "AlreadyExists")
    assert "RA123456785GB" in refused["detail"]
    assert (await site.get(f"/v1/returns/{rid}")).json()["label"] == "RA123456785GB"


async def test_refusals_are_specific(site: Site) -> None:
    first = await announce(site, "RMA-3003")
    dup = problem(
        await site.post(
            "/v1/returns", {"lockerId": WAW, "reference": "RMA-3003", "sizeClass": "S"}
        ),
        409,
        "AlreadyExists",
    )
    assert first["returnId"] in dup["detail"]
    # Another carrier may use the same reference; it never sees acme's return.
    other = await site.post(
        "/v1/returns",
        {"lockerId": WAW, "reference": "RMA-3003", "sizeClass": "S"},
        carrier=site.globex,
    )
    assert other.status_code == 201, other.text
    problem(
        await site.get(f"/v1/returns/{first['returnId']}", carrier=site.globex), 404, "NotFound"
    )

    no_size = await site.post("/v1/returns", {"lockerId": WAW, "reference": "RMA-X"})
    assert no_size.status_code == 422, no_size.text
    problem(
        await site.post(
            "/v1/returns", {"lockerId": "NOWHERE-1", "reference": "R-1", "sizeClass": "S"}
        ),
        404,
        "NotFound",
    )
    too_big = await site.post(
        "/v1/returns",
        {
            "lockerId": WAW,
            "reference": "R-BIG",
            "dimensionsMm": {"length": 3000, "width": 2000, "height": 2000},
        },
    )
    assert too_big.status_code == 409, too_big.text
    problem(await site.get("/v1/returns/ret_aaaaaaaaaaaaaaaaaaaa"), 404, "NotFound")

    rid = first["returnId"]
    bad_s10 = await bind(site, rid, "RA123456784GB")
    assert bad_s10.status_code == 422, bad_s10.text
    assert bad_s10.json()["errors"][0]["pointer"] == "/label"
    # A label another parcel of the carrier carries names one parcel only.
    booked = await site.post(
        "/v1/parcels",
        {"parcelId": "ACME-TAKEN-1", "lockerId": WAW, "sizeClass": "S"},
        key=uuid.uuid4().hex,
    )
    assert booked.status_code == 201, booked.text
    taken = problem(await bind(site, rid, "ACME-TAKEN-1"), 409, "AlreadyExists")
    assert "ACME-TAKEN-1" in taken["detail"]

    # Cancelled (as its parcel): no more codes, no label.
    cancelled = await site.post(f"/v1/parcels/{rid}/cancel", {}, key=uuid.uuid4().hex)
    assert cancelled.status_code == 200, cancelled.text
    read = (await site.get(f"/v1/returns/{rid}")).json()
    assert (read["state"], read["compartmentCode"], read["dropoffUntil"]) == (
        "cancelled",
        None,
        None,
    )
    problem(await site.post(f"/v1/returns/{rid}/code", {}), 409, "IllegalTransition")
    problem(await bind(site, rid, "ACME-LATE-1"), 409, "IllegalTransition")
