"""Bad input: each a clear 4xx problem, and the server keeps serving with nothing lost."""

from __future__ import annotations

from typing import Any

import httpx

from gateway.spec import Spec
from tests.http.conftest import Site

SPEC = Spec.load()

GOOD = {"parcelId": "BAD-0", "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"}


async def raw_post(
    site: Site, content: bytes, content_type: str = "application/json"
) -> httpx.Response:
    headers = site.acme.auth() | {
        "Idempotency-Key": f"raw-{hash(content) & 0xFFFFFFFF:08x}",
        "Content-Type": content_type,
    }
    return await site.client.post("/v1/parcels", content=content, headers=headers)


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    SPEC.validate("problem", body)
    assert body["status"] == status
    assert body["code"] == code
    return body


async def test_malformed_json(site: Site) -> None:
    problem(await raw_post(site, b'{"parcelId": "X",'), 400, "FormatViolation")
    problem(await raw_post(site, b"\xff\xfe not utf8"), 400, "FormatViolation")


async def test_wrong_media_type(site: Site) -> None:
    problem(
        await raw_post(site, b"parcelId=X", "application/x-www-form-urlencoded"),
        415,
        "UnsupportedMediaType",
    )


async def test_wrong_types_point_at_the_field(site: Site) -> None:
    body = problem(
        await site.post("/v1/parcels", {**GOOD, "weightG": "heavy"}, key="bad-type-001"),
        422,
        "PropertyConstraintViolation",
    )
    assert body["errors"][0]["pointer"] == "/weightG"
    nested = {**GOOD, "sizeClass": None, "dimensionsMm": {"length": -1, "width": 1, "height": 1}}
    nested.pop("sizeClass")
    body = problem(
        await site.post("/v1/parcels", nested, key="bad-type-002"),
        422,
        "PropertyConstraintViolation",
    )
    assert body["errors"][0]["pointer"] == "/dimensionsMm/length"


async def test_unknown_fields_are_refused(site: Site) -> None:
    body = problem(
        await site.post("/v1/parcels", {**GOOD, "colour": "red"}, key="bad-unk-0001"),
        422,
        "PropertyConstraintViolation",
    )
    assert body["errors"][0]["pointer"] == "/colour"


async def test_missing_required_field(site: Site) -> None:
    body = {k: v for k, v in GOOD.items() if k != "lockerId"}
    answer = problem(
        await site.post("/v1/parcels", body, key="bad-req-0001"), 422, "PropertyConstraintViolation"
    )
    assert answer["errors"][0]["pointer"] == "/lockerId"


async def test_not_an_object(site: Site) -> None:
    problem(
        await site.post("/v1/parcels", [1, 2, 3], key="bad-arr-0001"),
        422,
        "PropertyConstraintViolation",
    )


async def test_oversized_body(site: Site) -> None:
    huge = b'{"parcelId": "' + b"A" * 200_000 + b'"}'
    problem(await raw_post(site, huge), 413, "PayloadTooLarge")


async def test_unknown_locker(site: Site) -> None:
    problem(
        await site.post("/v1/parcels", {**GOOD, "lockerId": "NOWHERE-1"}, key="bad-lck-0001"),
        404,
        "NotFound",
    )
    problem(await site.get("/v1/lockers/NOWHERE-1"), 404, "NotFound")


async def test_unknown_route_and_method(site: Site) -> None:
    problem(await site.get("/v1/nothing-here"), 404, "NotFound")
    response = await site.client.delete("/v1/parcels", headers=site.acme.auth())
    problem(response, 405, "MethodNotAllowed")


async def test_bad_query_parameters(site: Site) -> None:
    problem(await site.get("/v1/lockers", limit="many"), 422, "PropertyConstraintViolation")
    problem(await site.get("/v1/lockers", limit=0), 422, "PropertyConstraintViolation")
    problem(await site.get("/v1/lockers", near="north"), 422, "PropertyConstraintViolation")
    problem(await site.get("/v1/lockers", radiusM=10), 422, "PropertyConstraintViolation")
    problem(await site.get("/v1/lockers", colour="red"), 422, "PropertyConstraintViolation")
    problem(await site.get("/v1/parcels", cursor="garbage!"), 422, "PropertyConstraintViolation")


async def test_nothing_lost_after_a_barrage_of_bad_input(site: Site) -> None:
    created = await site.post("/v1/parcels", GOOD, key="barrage-0001")
    assert created.status_code == 201
    for content in (b"{", b"null", b'{"parcelId": 5}', b"[]", b'"x"', b"\x00" * 10):
        response = await raw_post(site, content)
        assert 400 <= response.status_code < 500
    assert (await site.get("/v1/parcels/BAD-0")).json()["state"] == "reserved"
    assert (await site.client.get("/healthz")).status_code == 200
