"""A carrier can neither read nor touch another carrier's parcel: 404 everywhere, no change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.domain.audit import AuditAction
from gateway.service.audit import AuditService
from tests.http.conftest import Site
from tests.support.carriers import TestCarrier

LOCKER = "WAW-CENTRAL-01"
# Every carrier-facing route about one parcel: method, path suffix, body, needs a key.
PARCEL_ROUTES = [
    ("GET", "", None, False),
    ("GET", "/events", None, False),
    ("POST", "/reserve", {}, True),
    ("POST", "/cancel", {"reason": "mine now"}, True),
    ("POST", "/extend", {"pickupUntil": "2030-01-01T00:00:00Z"}, True),
    ("POST", "/redirect", {"lockerId": "KRK-MAIN-01", "newParcelId": "STOLEN-1"}, True),
    ("POST", "/open", {}, True),
    ("POST", "/codes", {}, False),
    ("POST", "/grants", {}, False),
]
ROUTE_IDS = [f"{method} {suffix or '/'}" for method, suffix, _, _ in PARCEL_ROUTES]


async def call(
    site: Site,
    carrier: TestCarrier,
    method: str,
    path: str,
    body: Any,
    key: str | None,
) -> httpx.Response:
    headers = carrier.auth()
    if key is not None:
        headers["Idempotency-Key"] = key
    if method == "GET":
        return await site.client.get(path, headers=headers)
    return await site.client.post(path, json=body, headers=headers)


def without(problem: dict[str, Any], parcel_id: str) -> dict[str, Any]:
    """The problem body with the asked-for id blanked: all that may differ between two 404s."""
    return {
        k: v.replace(parcel_id, "<id>") if isinstance(v, str) else v for k, v in problem.items()
    }


async def snapshot(site: Site, parcel_id: str) -> tuple[Any, Any]:
    parcel = await site.get(f"/v1/parcels/{parcel_id}")
    events = await site.get(f"/v1/parcels/{parcel_id}/events")
    assert parcel.status_code == events.status_code == 200
    return parcel.json(), events.json()


@pytest.mark.parametrize(("method", "suffix", "body", "keyed"), PARCEL_ROUTES, ids=ROUTE_IDS)
async def test_another_carriers_parcel_is_not_found_and_unchanged(
    site: Site, method: str, suffix: str, body: Any, keyed: bool
) -> None:
    created = {"parcelId": "ISO-1", "lockerId": LOCKER, "sizeClass": "S"}
    assert (await site.post("/v1/parcels", created, key="iso-book-0001")).status_code == 201
    before = await snapshot(site, "ISO-1")

    theirs = await call(
        site, site.globex, method, f"/v1/parcels/ISO-1{suffix}", body, "iso-try-0001"
    )
    nobody = await call(
        site, site.globex, method, f"/v1/parcels/NO-SUCH-1{suffix}", body, "iso-try-0002"
    )

    assert theirs.status_code == 404, theirs.text
    # Exactly the answer for a parcel that does not exist: existence does not leak.
    assert nobody.status_code == 404, nobody.text
    assert without(theirs.json(), "ISO-1") == without(nobody.json(), "NO-SUCH-1")
    assert await snapshot(site, "ISO-1") == before
    audit = AuditService(store=site.gateway.store)
    for action in (AuditAction.CODE_ISSUED, AuditAction.GRANT_ISSUED):
        assert await audit.latest(10, action=action) == []
    if not keyed:
        return
    # The key globex used is globex's own: acme's requests are not answered from it.
    owner = await call(site, site.acme, method, f"/v1/parcels/ISO-1{suffix}", body, "iso-try-0001")
    assert owner.status_code != 404, owner.text


async def test_the_same_routes_find_the_owners_parcel(site: Site) -> None:
    """The control for the test above: the routes exist and answer the owner (not 404)."""
    created = {"parcelId": "ISO-2", "lockerId": LOCKER, "sizeClass": "S"}
    assert (await site.post("/v1/parcels", created, key="iso-book-0002")).status_code == 201
    # Cancel last: it ends the parcel. Open answers 503 here (no locker is connected).
    routes = sorted(PARCEL_ROUTES, key=lambda route: route[1] == "/cancel")
    for n, (method, suffix, body, keyed) in enumerate(routes):
        key = f"iso-own-{n:04d}" if keyed else None
        response = await call(site, site.acme, method, f"/v1/parcels/ISO-2{suffix}", body, key)
        assert response.status_code != 404, (suffix, response.text)


async def test_another_carriers_parcels_are_never_listed(site: Site) -> None:
    created = {"parcelId": "ISO-3", "lockerId": LOCKER, "sizeClass": "S"}
    assert (await site.post("/v1/parcels", created, key="iso-book-0003")).status_code == 201
    assert [p["parcelId"] for p in (await site.get("/v1/parcels")).json()["items"]] == ["ISO-3"]
    assert (await site.get("/v1/parcels", carrier=site.globex)).json()["items"] == []


async def test_another_carriers_webhook_is_not_found_and_stays_active(site: Site) -> None:
    made = await site.post(
        "/v1/webhooks", {"url": "https://hooks.example.com/acme"}, key="iso-hook-0001"
    )
    assert made.status_code == 201, made.text
    hook = made.json()["id"]
    other = site.globex
    for method, path in [
        ("GET", f"/v1/webhooks/{hook}"),
        ("GET", f"/v1/webhooks/{hook}/deliveries"),
        ("POST", f"/v1/webhooks/{hook}/deliveries/1/retry"),
        ("DELETE", f"/v1/webhooks/{hook}"),
    ]:
        headers = other.auth() | {"Idempotency-Key": "iso-hook-0002"}
        response = await site.client.request(
            method, path, headers=headers, json={} if method == "POST" else None
        )
        assert response.status_code == 404, (method, path, response.text)
    assert (await site.get("/v1/webhooks", carrier=other)).json()["items"] == []
    mine = await site.get(f"/v1/webhooks/{hook}")
    assert mine.status_code == 200
    assert mine.json()["active"] is True
