"""Inbound pre-advice and status pull over HTTP, on a real gateway with template attachments."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.service.connectors import NewAttachment
from tests.http.conftest import NETWORK, Site, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock

MAPPING: dict[str, Any] = {
    "statuses": {
        "parcel.reserved": {"code": "confirmed", "text": "Booked"},
        "parcel.ready_for_pickup": "ready_to_pickup",
    },
    "inbound": {
        "fields": {
            "parcelId": {"pointer": "/shipment/id", "required": True},
            "lockerId": {"pointer": "/shipment/receiver/lockerCode", "required": True},
            "sizeClass": {
                "pointer": "/shipment/size",
                "required": True,
                "values": {"A": "S", "B": "M", "C": "L"},
            },
            "reference": {"pointer": "/shipment/reference"},
            "pickupWindowSeconds": {"pointer": "/shipment/holdDays/seconds", "type": "integer"},
        }
    },
}
INBOUND = "/v1/connectors/acme-preadvice/inbound"


def shipment(parcel_id: str = "CX1001", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": parcel_id,
        "receiver": {"lockerCode": "WAW-CENTRAL-01", "name": "Ada Example"},
        "size": "B",
        "reference": "order 17",
    }
    body.update(changes)
    return {"shipment": {k: v for k, v in body.items() if v is not None}}


@pytest.fixture
async def site(database_url: str) -> AsyncIterator[Site]:
    acme = TestCarrier.ed25519("acme", NETWORK)
    globex = TestCarrier.p256("globex", NETWORK)
    clock = MovableClock()
    async with Gateway(settings=settings_for(database_url), clock=clock) as gateway:
        await gateway.carriers.register("acme", acme.jwks, "ACME Parcel")
        await gateway.carriers.register("globex", globex.jwks, "Globex Logistics")
        await provision(gateway, "waw-central.yaml", "krk-main.yaml")
        for attachment_id, carrier_id, connector, config in [
            ("acme-preadvice", "acme", "template", MAPPING),
            ("globex-preadvice", "globex", "template", MAPPING),
            ("acme-status-only", "acme", "template", {"statuses": MAPPING["statuses"]}),
            ("acme-hooks", "acme", "standard-webhooks", {"url": "https://hooks.example/in"}),
        ]:
            await gateway.connectors.add(
                NewAttachment(
                    id=attachment_id, carrier_id=carrier_id, connector=connector, config=config
                )
            )
        async with httpx.AsyncClient(base_url=gateway.base_url, timeout=60) as client:
            yield Site(gateway, client, acme, globex, gateway.spec, clock)


async def post_raw(
    site: Site,
    body: bytes,
    *,
    key: str | None = "inbound-key-1",
    path: str = INBOUND,
    carrier: TestCarrier | None = None,
    content_type: str = "application/json",
) -> httpx.Response:
    headers = (carrier or site.acme).auth() | {"Content-Type": content_type}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await site.client.post(path, content=body, headers=headers)


async def post(site: Site, document: Any, **options: Any) -> httpx.Response:
    return await post_raw(site, json.dumps(document).encode(), **options)


async def parcel_count(site: Site, carrier: TestCarrier | None = None) -> int:
    response = await site.get("/v1/parcels", carrier=carrier)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


def issues(response: httpx.Response, site: Site) -> list[tuple[str, str]]:
    assert response.headers["Content-Type"].startswith("application/problem+json")
    site.spec.validate("problem", response.json())
    return [(e["pointer"], e["detail"]) for e in response.json().get("errors", [])]


async def test_a_shipment_becomes_a_parcel(site: Site) -> None:
    response = await post(site, shipment(holdDays={"seconds": "7200"}))
    assert response.status_code == 201, response.text
    parcel = response.json()
    assert response.headers["Location"] == "/v1/parcels/CX1001"
    assert (parcel["parcelId"], parcel["lockerId"], parcel["state"]) == (
        "CX1001",
        "WAW-CENTRAL-01",
        "reserved",
    )
    assert parcel["requested"] == {"sizeClass": "M"}
    assert parcel["reference"] == "order 17"
    site.spec.validate("parcel", parcel)
    fetched = await site.get("/v1/parcels/CX1001")
    assert fetched.status_code == 200
    assert fetched.json() == parcel
    # The same parcel, through the API's own ownership rules: another carrier cannot see it.
    assert (await site.get("/v1/parcels/CX1001", carrier=site.globex)).status_code == 404


async def test_a_replay_gets_the_same_answer_and_a_reuse_a_conflict(site: Site) -> None:
    first = await post(site, shipment())
    again = await post(site, shipment())
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await parcel_count(site) == 1
    other = await post(site, shipment("CX1002"))
    assert other.status_code == 409
    assert other.json()["code"] == "IdempotencyConflict"
    assert await parcel_count(site) == 1


async def test_the_same_parcel_under_a_new_key_already_exists(site: Site) -> None:
    assert (await post(site, shipment())).status_code == 201
    second = await post(site, shipment(), key="inbound-key-2")
    assert second.status_code == 409
    assert second.json()["code"] == "AlreadyExists"


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (shipment(id=None), [("/shipment/id", "is required")]),
        (shipment(size="D"), [("/shipment/size", "must be one of: A, B, C")]),
        (
            shipment(receiver={"lockerCode": 42}),
            [("/shipment/receiver/lockerCode", "must be of type string")],
        ),
        (
            shipment(receiver={"lockerCode": "NOPE-01"}),
            [("/shipment/receiver/lockerCode", "no locker 'NOPE-01'")],
        ),
        (
            shipment("bad id with spaces"),
            [("/shipment/id", "does not match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")],
        ),
        (
            shipment(holdDays={"seconds": 60}),
            [("/shipment/holdDays/seconds", "must be at least 3600")],
        ),
        (
            shipment(holdDays={"seconds": "a week"}),
            [("/shipment/holdDays/seconds", "must be a integer value")],
        ),
        (
            shipment(id=None, size="Z"),
            [("/shipment/id", "is required"), ("/shipment/size", "must be one of: A, B, C")],
        ),
        (
            {"shipment": []},
            [
                ("/shipment/id", "is required"),
                ("/shipment/receiver/lockerCode", "is required"),
                ("/shipment/size", "is required"),
            ],
        ),
        (
            [1, 2],
            [
                ("/shipment/id", "is required"),
                ("/shipment/receiver/lockerCode", "is required"),
                ("/shipment/size", "is required"),
            ],
        ),
    ],
    ids=[
        "missing-id",
        "unmappable-size",
        "wrong-type",
        "unknown-locker",
        "bad-parcel-id",
        "below-minimum",
        "not-a-number",
        "two-at-once",
        "wrong-shape",
        "not-an-object",
    ],
)
async def test_bad_shipments_are_named_in_the_carriers_terms(
    site: Site, document: Any, expected: list[tuple[str, str]]
) -> None:
    response = await post(site, document)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "PropertyConstraintViolation"
    assert issues(response, site) == expected
    assert "Ada" not in response.text  # the recipient's name never comes back
    assert await parcel_count(site) == 0


async def test_malformed_json_is_a_bad_request(site: Site) -> None:
    response = await post_raw(site, b'{"shipment": {"id": "CX1"')
    assert response.status_code == 400
    assert response.json()["code"] == "FormatViolation"
    assert await parcel_count(site) == 0


async def test_an_empty_body_is_a_bad_request(site: Site) -> None:
    response = await post_raw(site, b"")
    assert response.status_code == 400
    assert await parcel_count(site) == 0


async def test_a_body_that_is_not_json_is_refused(site: Site) -> None:
    response = await post_raw(site, b"<shipment/>", content_type="application/xml")
    assert response.status_code == 415
    assert response.json()["code"] == "UnsupportedMediaType"


async def test_an_oversized_body_is_refused(site: Site) -> None:
    limit = site.gateway.settings.http.max_body_bytes
    padded = shipment(reference="x" * limit)
    response = await post(site, padded)
    assert response.status_code == 413
    assert response.json()["code"] == "PayloadTooLarge"
    assert await parcel_count(site) == 0


async def test_a_post_without_an_idempotency_key_is_refused(site: Site) -> None:
    response = await post(site, shipment(), key=None)
    assert response.status_code == 400
    assert response.json()["code"] == "IdempotencyKeyMissing"
    assert await parcel_count(site) == 0


async def test_without_a_token_nothing_is_read(site: Site) -> None:
    response = await site.client.post(
        INBOUND, json=shipment(), headers={"Idempotency-Key": "k" * 8}
    )
    assert response.status_code == 401
    assert await parcel_count(site) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/v1/connectors/globex-preadvice/inbound",  # another carrier's attachment
        "/v1/connectors/no-such-attachment/inbound",
        "/v1/connectors/acme-status-only/inbound",  # a template without an inbound mapping
        "/v1/connectors/acme-hooks/inbound",  # a connector without the capability
    ],
)
async def test_attachments_that_take_no_preadvice_from_this_carrier_are_not_found(
    site: Site, path: str
) -> None:
    response = await post(site, shipment(), path=path)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "NotFound"
    assert await parcel_count(site) == 0
    assert await parcel_count(site, site.globex) == 0


async def test_another_carrier_uses_its_own_attachment(site: Site) -> None:
    response = await post(
        site, shipment(), path="/v1/connectors/globex-preadvice/inbound", carrier=site.globex
    )
    assert response.status_code == 201, response.text
    assert await parcel_count(site, site.globex) == 1
    assert await parcel_count(site) == 0


async def test_a_disabled_attachment_takes_no_more_preadvice(site: Site) -> None:
    await site.gateway.connectors.disable("acme-preadvice", "carrier moved to the API")
    response = await post(site, shipment())
    assert response.status_code == 404
    assert await parcel_count(site) == 0


# ---- status pull ---------------------------------------------------------------------------


async def test_status_pull_answers_in_the_carriers_vocabulary(site: Site) -> None:
    assert (await post(site, shipment())).status_code == 201
    response = await site.get("/v1/connectors/acme-preadvice/parcels/CX1001")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["parcelId"], answer["status"], answer["statusText"]) == (
        "CX1001",
        "confirmed",
        "Booked",
    )
    assert [h["status"] for h in answer["history"]] == ["confirmed"]
    # The status-only attachment uses the same table.
    other = await site.get("/v1/connectors/acme-status-only/parcels/CX1001")
    assert other.json()["status"] == "confirmed"


@pytest.mark.parametrize(
    ("path", "carrier"),
    [
        ("/v1/connectors/acme-preadvice/parcels/NO-SUCH-PARCEL", "acme"),
        ("/v1/connectors/acme-preadvice/parcels/CX1001", "globex"),  # not globex's attachment
        ("/v1/connectors/globex-preadvice/parcels/CX1001", "globex"),  # not globex's parcel
        ("/v1/connectors/acme-hooks/parcels/CX1001", "acme"),  # no status pull
    ],
)
async def test_status_pull_of_what_is_not_the_callers_is_not_found(
    site: Site, path: str, carrier: str
) -> None:
    assert (await post(site, shipment())).status_code == 201
    response = await site.get(path, carrier=site.acme if carrier == "acme" else site.globex)
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "NotFound"
