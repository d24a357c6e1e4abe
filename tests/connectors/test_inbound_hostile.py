"""Hostile pre-advice bodies: each a 400 problem, nothing booked, never a 500."""

from __future__ import annotations

import pytest

from tests.connectors.test_inbound_http import parcel_count, post_raw, site
from tests.http.conftest import Site

__all__ = ["site"]

# Each fits the body limit; each made the parser or the database raise (a 500) before.
HOSTILE = {
    # Deeper than Python's recursion limit: json.loads raises RecursionError.
    "deep-nesting": b"[" * 20_000 + b"]" * 20_000,
    # Past int's 4300-digit limit: json.loads raises a plain ValueError.
    "huge-integer": b'{"shipment": {"id": "CX1", "size": ' + b"9" * 5000 + b"}}",
    # PostgreSQL cannot store U+0000 in text or jsonb (asyncpg raised, the request got a 500
    # and the traceback logged the SQL parameters, the recipient's data among them).
    "nul-in-a-value": b'{"shipment": {"id": "CX1", "receiver": {"lockerCode": "WAW-CENTRAL-01"},'
    b' "size": "B", "reference": "order\\u000017"}}',
    "nul-in-a-name": b'{"shipment": {"id": "CX1", "receiver": {"lockerCode": "WAW-CENTRAL-01"},'
    b' "size": "B", "x\\u0000": 1}}',
    # Not JSON, though Python reads them.
    "nan": b'{"shipment": {"id": "CX1", "size": NaN}}',
    "infinity": b'{"shipment": {"id": "CX1", "size": -Infinity}}',
}


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
async def test_bodies_the_parser_or_the_store_choke_on_are_bad_requests(
    site: Site, body: bytes
) -> None:
    response = await post_raw(site, body)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "FormatViolation"
    site.spec.validate("problem", response.json())
    assert await parcel_count(site) == 0


@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
async def test_the_parcel_api_refuses_them_alike(site: Site, body: bytes) -> None:
    headers = site.acme.auth() | {
        "Idempotency-Key": "hostile-1",
        "Content-Type": "application/json",
    }
    response = await site.client.post("/v1/parcels", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "FormatViolation"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/connectors/acme-preadvice/parcels/CX%001",
        "/v1/connectors/acme%00preadvice/parcels/CX1",
        "/v1/parcels/CX%001",
    ],
)
async def test_a_nul_in_the_path_is_not_found(site: Site, path: str) -> None:
    response = await site.get(path)
    assert response.status_code == 404, response.text


async def test_a_nul_in_a_query_parameter_is_refused(site: Site) -> None:
    # 422 pointing at the parameter: the status every GET declares (schemathesis found the
    # earlier 400, which no GET operation lists).
    response = await site.get("/v1/parcels", lockerId="WAW\x00")
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "PropertyConstraintViolation"
