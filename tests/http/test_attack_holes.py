"""Holes found by fuzzing and by an attacker reading the docs (issue 12), each closed for good.

Every route comes from schemas/v1/openapi.yaml, so a route added later is attacked too. Every
refusal must be an RFC 9457 problem that matches schemas/v1/problem.json, `instance` included.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
import yaml

from gateway.domain.enums import ParcelAction
from gateway.spec import Spec
from tests.http.conftest import Site

SPEC = Spec.load()
OPENAPI: dict[str, Any] = yaml.safe_load(SPEC.file("openapi.yaml").content)
METHODS = ("get", "post", "put", "patch", "delete")
PARAMETER = re.compile(r"\{[^}]+\}")
# RFC 3986 URI-reference characters; `%` only as the start of a percent-encoded octet.
URI_REFERENCE = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$")

GOOD_PARCEL = {"parcelId": "HOLE-1", "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"}


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in OPENAPI["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def templated(path: str, raw_id: str) -> str:
    """`path` with every `{parameter}` replaced by `raw_id` as sent on the wire."""
    return PARAMETER.sub(raw_id, path)


def problem(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in statuses, (response.request.url, response.text)
    media_type = response.headers["content-type"]
    assert media_type.startswith("application/problem+json"), (response.request.url, media_type)
    body: dict[str, Any] = response.json()
    SPEC.validate("problem", body)
    instance = body.get("instance", "")
    assert URI_REFERENCE.match(instance), f"instance {instance!r} is no uri-reference"
    return body


async def send(
    site: Site, method: str, url: str, *, content: bytes | None = None, key: str = "hole-key-01"
) -> httpx.Response:
    headers = site.acme.auth() | {"Idempotency-Key": key}
    if content is not None:
        headers["Content-Type"] = "application/json"
    return await site.client.request(method, url, content=content, headers=headers)


# ---- 1. NUL characters --------------------------------------------------------------------


@pytest.mark.parametrize("raw_id", ["A%00B", "%00", "A%2500B%00"])
async def test_nul_in_any_path_id_is_a_problem(site: Site, raw_id: str) -> None:
    for method, path, operation in operations():
        if "{" not in path:
            continue
        content = b"{}" if "requestBody" in operation else None
        response = await send(site, method, templated(path, raw_id), content=content)
        problem(response, 400, 404, 422)
    assert (await site.client.get("/healthz")).status_code == 200


async def test_nul_in_any_body_string_is_a_problem(site: Site) -> None:
    bodies = [b'{"reference": "a\\u0000b"}', b'{"a\\u0000": 1}', b'["\\u0000"]']
    for n, (method, path, operation) in enumerate(operations()):
        if "requestBody" not in operation:
            continue
        for m, content in enumerate(bodies):
            url = templated(path, "HOLE-1" if "delivery" not in path.lower() else "1")
            response = await send(site, method, url, content=content, key=f"nul-body-{n}-{m}")
            problem(response, 400, 401, 404, 422)


async def test_nul_in_documented_free_text_fields(site: Site) -> None:
    parcel = {**GOOD_PARCEL, "reference": "a\u0000b"}
    problem(await site.post("/v1/parcels", parcel, key="nul-ref-0001"), 400, 422)
    hook = {"url": "https://example.com/hook", "description": "x\u0000y"}
    problem(await site.post("/v1/webhooks", hook, key="nul-hook-0001"), 400, 422)
    # Nothing was stored, and the same keys still work with a clean body.
    assert (await site.get("/v1/parcels/HOLE-1")).status_code == 404


@pytest.mark.parametrize("claim", ["iss", "jti", "kid", "sub"])
async def test_nul_in_a_token_is_a_401_problem(site: Site, claim: str) -> None:
    if claim == "kid":
        token = site.acme.token(headers={"kid": "k\u00001"})
    elif claim == "iss":
        token = site.acme.token(overrides={"iss": "ac\u0000me"})
    else:
        token = site.acme.token(overrides={claim: "a\u0000bcdefghij"})
    response = await site.client.get("/v1/lockers", headers={"Authorization": f"Bearer {token}"})
    if claim == "sub":  # an unused claim may hold anything; the request must not fail
        assert response.status_code == 200, response.text
        return
    assert problem(response, 401)["code"] == "SecurityError"


# ---- 2. Deep nesting ----------------------------------------------------------------------


async def test_deeply_nested_json_is_a_format_violation(site: Site) -> None:
    for depth in (30_000, 3_000, 995, 980, 900, 500):
        content = b"[" * depth + b"]" * depth
        for key, url in (("deep-parcel", "/v1/parcels"), ("deep-hook", "/v1/webhooks")):
            response = await send(site, "POST", url, content=content, key=f"{key}-{depth}")
            body = problem(response, 400, 422)
            assert body["code"] in ("FormatViolation", "PropertyConstraintViolation"), body
        nested_object = b'{"reference": ' + b"[" * depth + b"]" * depth + b"}"
        response = await send(site, "POST", "/v1/parcels", content=nested_object, key=f"do{depth}")
        problem(response, 400, 422)
    # Just under the parser's own limit the schema validators must not run out of stack.
    for depth in range(900, 1001, 5):
        content = b'{"parcelId": ' + b"[" * depth + b"]" * depth + b"}"
        response = await send(site, "POST", "/v1/parcels", content=content, key=f"dd-{depth}")
        problem(response, 400, 422)
    assert (await site.client.get("/healthz")).status_code == 200


# ---- 4. A problem's instance is a uri-reference ---------------------------------------------


@pytest.mark.parametrize("raw_id", ["%C2%84", "%E2%80%8B", "a%20b", "%25", "%22%3C%3E"])
async def test_problem_instance_is_percent_encoded(site: Site, raw_id: str) -> None:
    for method, path, operation in operations():
        if "{" not in path:
            continue
        content = b"{}" if "requestBody" in operation else None
        # The admin API refuses a carrier's credential before it reads the id (401; 404 where
        # the id matches no route at all); its problem must carry an encoded instance too.
        allowed = (401, 404) if path.startswith("/v1/admin/") else (400, 404, 422)
        problem(await send(site, method, templated(path, raw_id), content=content), *allowed)
    body = problem(await send(site, "DELETE", "/v1/webhooks/%C2%84"), 404)
    assert body["instance"] == "/v1/webhooks/%C2%84"


# ---- 5. NumericDate claims ----------------------------------------------------------------


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
async def test_numeric_dates_must_be_json_numbers(site: Site, claim: str) -> None:
    good = site.acme.token()  # for the right values of iat and exp
    claims = jwt.decode(good, options={"verify_signature": False})
    value = str(claims["iat"] if claim == "nbf" else claims[claim])
    for odd in (value, True, [int(value)], {"n": 1}, None if claim == "nbf" else "x"):
        if odd is None:
            continue
        token = site.acme.token(overrides={claim: odd})
        response = await site.client.get(
            "/v1/lockers", headers={"Authorization": f"Bearer {token}"}
        )
        body = problem(response, 401)
        assert body["code"] == "SecurityError"
        assert "NumericDate" in body["detail"] or claim in body["detail"], body["detail"]
    fractional = site.acme.token(overrides={claim: float(value) + 0.5})
    ok = await site.client.get("/v1/lockers", headers={"Authorization": f"Bearer {fractional}"})
    assert ok.status_code == 200, ok.text


# ---- 6. An oversized Authorization header -------------------------------------------------


@pytest.mark.parametrize("size", [8_200, 9_000, 16_000])
async def test_oversized_authorization_header_is_a_problem(site: Site, size: int) -> None:
    headers = {"Authorization": "Bearer " + "x" * size}
    response = await site.client.get("/v1/lockers", headers=headers)
    assert problem(response, 401)["code"] == "SecurityError"
    assert (await site.get("/v1/lockers")).status_code == 200


# ---- 7. Location on every 201 that promises one -------------------------------------------


def promises_location(operation: dict[str, Any]) -> bool:
    created = operation.get("responses", {}).get("201", {})
    return "Location" in created.get("headers", {})


async def test_every_promised_location_is_sent(site: Site) -> None:
    promised = {f"{m} {p}" for m, p, op in operations() if promises_location(op)}
    assert "POST /v1/parcels" in promised
    created = await site.post("/v1/parcels", GOOD_PARCEL, key="loc-parcel-01")
    assert created.status_code == 201, created.text
    assert created.headers.get("Location") == "/v1/parcels/HOLE-1"
    checked = {"POST /v1/parcels"}

    redirect = {"lockerId": "KRK-MAIN-01", "newParcelId": "HOLE-1-R"}
    await deposit(site, "HOLE-1")
    moved = await site.post("/v1/parcels/HOLE-1/redirect", redirect, key="loc-redirect-1")
    assert moved.status_code == 201, moved.text
    assert moved.headers.get("Location") == "/v1/parcels/HOLE-1-R"
    checked.add("POST /v1/parcels/{parcelId}/redirect")

    hook = {"url": "https://example.com/hook"}
    made = await site.post("/v1/webhooks", hook, key="loc-webhook-01")
    assert made.status_code == 201, made.text
    assert made.headers.get("Location") == f"/v1/webhooks/{made.json()['id']}"
    checked.add("POST /v1/webhooks")
    hold = {"lockerId": "WAW-CENTRAL-01", "sizeClass": "S"}
    held = await site.post("/v1/holds", hold, key="loc-hold-01")
    assert held.status_code == 201, held.text
    assert held.headers.get("Location") == f"/v1/holds/{held.json()['holdId']}"
    checked.add("POST /v1/holds")
    bundle = {
        "bundleId": "LOC-BUNDLE-1",
        "lockerId": "WAW-CENTRAL-01",
        "parcels": [{"parcelId": "LOC-B-1", "sizeClass": "S"}],
    }
    bundled = await site.post("/v1/bundles", bundle, key="loc-bundle-01")
    assert bundled.status_code == 201, bundled.text
    assert bundled.headers.get("Location") == "/v1/bundles/LOC-BUNDLE-1"
    checked.add("POST /v1/bundles")
    round_ = await site.post(
        "/v1/courier-sessions", {"lockerId": "WAW-CENTRAL-01"}, key="loc-courier-01"
    )
    assert round_.status_code == 201, round_.text
    sessions = f"/v1/courier-sessions/{round_.json()['sessionId']}"
    assert round_.headers.get("Location") == sessions
    checked.add("POST /v1/courier-sessions")
    ret = {"lockerId": "WAW-CENTRAL-01", "reference": "LOC-RMA-1", "sizeClass": "S"}
    announced = await site.post("/v1/returns", ret)
    assert announced.status_code == 201, announced.text
    assert announced.headers.get("Location") == f"/v1/returns/{announced.json()['returnId']}"
    checked.add("POST /v1/returns")
    # The connector route's Location needs a connector attachment: it is checked in
    # tests/connectors/test_inbound_http.py. Every other promise must be checked here.
    checked.add("POST /v1/connectors/{attachmentId}/inbound")
    # Adding an operator needs an admin's session: checked in tests/admin/test_operator_admin.py.
    checked.add("POST /v1/admin/operators")
    assert promised <= checked, promised - checked


async def deposit(site: Site, parcel_id: str) -> None:
    """Bring a parcel to ready_for_pickup, as the redirect route needs (as test_parcels_api)."""
    stored = await site.gateway.parcels.get("acme", parcel_id)
    await site.gateway.parcels.apply_action(stored.uid, ParcelAction.DEPOSIT)
