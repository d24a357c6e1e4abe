"""Probes and the published spec are served without a carrier token."""

from __future__ import annotations

import yaml

from tests.http.conftest import Site


async def test_health_and_readiness(site: Site) -> None:
    health = await site.client.get("/healthz")
    assert health.json() == {"status": "ok"}
    ready = await site.client.get("/readyz")
    assert ready.status_code == 200
    site.spec.validate("readiness", ready.json())


async def test_openapi_document_is_served(site: Site) -> None:
    response = await site.client.get("/v1/spec/openapi.yaml")
    assert response.status_code == 200
    document = yaml.safe_load(response.text)
    assert document["openapi"].startswith("3.1")
    assert "/v1/parcels" in document["paths"]
    schema = await site.client.get("/v1/spec/parcel.json")
    assert schema.status_code == 200
    assert (await site.client.get("/v1/spec/..%2Fpyproject.toml")).status_code == 404


async def test_lockers_search_by_distance_and_size(site: Site) -> None:
    near_warsaw = (await site.get("/v1/lockers", near="52.23,21.01", radiusM=10_000)).json()
    site.spec.validate("locker-list", near_warsaw)
    assert [lk["id"] for lk in near_warsaw["items"]] == ["WAW-CENTRAL-01"]
    assert near_warsaw["items"][0]["distanceM"] < 1_000

    both = (await site.get("/v1/lockers", near="52.23,21.01")).json()
    assert [lk["id"] for lk in both["items"]] == ["WAW-CENTRAL-01", "KRK-MAIN-01"]
    assert 240_000 < both["items"][1]["distanceM"] < 260_000

    xl = (await site.get("/v1/lockers", sizeClass="XL")).json()
    assert [lk["id"] for lk in xl["items"]] == ["WAW-CENTRAL-01"]

    first = (await site.get("/v1/lockers", limit=1)).json()
    assert len(first["items"]) == 1
    assert first["nextCursor"]
    second = (await site.get("/v1/lockers", limit=1, cursor=first["nextCursor"])).json()
    assert second["nextCursor"] is None
    assert {first["items"][0]["id"], second["items"][0]["id"]} == {"WAW-CENTRAL-01", "KRK-MAIN-01"}


async def test_locker_detail(site: Site) -> None:
    detail = (await site.get("/v1/lockers/WAW-CENTRAL-01")).json()
    site.spec.validate("locker", detail)
    assert detail["features"] == ["keypad", "qr"]
    assert [a["sizeClass"] for a in detail["availability"]] == ["XS", "S", "M", "L", "XL"]
    assert "distanceM" not in detail
