"""Delivery requirements through the real carrier API: allocation, echo, specific problems."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from gateway.domain.enums import ParcelAction
from gateway.tokens.grants import GrantVerifier
from gateway.tokens.network_keys import public_key_of
from tests.http.conftest import NETWORK, Site, provision
from tests.support.problems import problem as refused

LOCKER = "GDA-COLD-01"


@pytest.fixture
async def cold(site: Site) -> Site:
    await provision(site.gateway, "gda-cold.yaml")
    return site


async def post(site: Site, parcel_id: str, **extra: Any) -> httpx.Response:
    body = {"parcelId": parcel_id, "lockerId": LOCKER, "sizeClass": "S", **extra}
    return await site.post("/v1/parcels", body, key=uuid.uuid4().hex)


async def booked(site: Site, parcel_id: str, **extra: Any) -> dict[str, Any]:
    answer = await post(site, parcel_id, **extra)
    assert answer.status_code == 201, answer.text
    parcel: dict[str, Any] = answer.json()
    site.spec.validate("parcel", parcel)
    return parcel


async def test_an_accessible_parcel_gets_a_door_within_reach(cold: Site) -> None:
    reach = {"accessibleHeightMm": {"min": 400, "max": 1200}}
    plain = await booked(cold, "GDA-PLAIN")
    # The smallest ambient S by code is A01, on the ground: fine without a requirement...
    assert plain["compartmentCode"] == "A01"
    assert "requirements" not in plain["requested"]
    # ...but not within 400..1200 mm: A02 (600..790) and B01 (450..640) are.
    first = await booked(cold, "GDA-ACC-1", requirements=reach)
    second = await booked(cold, "GDA-ACC-2", requirements=reach)
    assert {first["compartmentCode"], second["compartmentCode"]} == {"A02", "B01"}
    assert first["requested"]["requirements"] == reach
    # Both accessible S doors taken: an S parcel may take a larger door (F01 is frozen, A03
    # too high), none is left, and waiting would help: 409, not 422.
    refused(await post(cold, "GDA-ACC-3", requirements=reach), 409, "NoCompartmentAvailable")


async def test_temperature_classes_are_kept_apart(cold: Site) -> None:
    chilled = await booked(cold, "GDA-COLD-1", requirements={"temperatureClass": "chilled"})
    assert chilled["compartmentCode"] == "K02"
    assert (await booked(cold, "GDA-COLD-2", requirements={"temperatureClass": "chilled"}))[
        "compartmentCode"
    ] == "K01"
    frozen = await booked(cold, "GDA-ICE", requirements={"temperatureClass": "frozen"})
    assert frozen["compartmentCode"] == "F01"
    # Ambient parcels fill the ambient doors and never take a cold one.
    for n in range(4):
        parcel = await booked(cold, f"GDA-AMB-{n}")
        assert parcel["compartmentCode"] in {"A01", "A02", "A03", "B01"}
    refused(await post(cold, "GDA-AMB-X"), 409, "NoCompartmentAvailable")
    # An explicit ambient requirement is the same as none.
    refused(
        await post(cold, "GDA-AMB-Y", requirements={"temperatureClass": "ambient"}),
        409,
        "NoCompartmentAvailable",
    )


async def test_a_class_the_locker_lacks_is_a_specific_problem(cold: Site) -> None:
    answer = await cold.post(
        "/v1/parcels",
        {
            "parcelId": "WAW-ICE",
            "lockerId": "WAW-CENTRAL-01",
            "sizeClass": "S",
            "requirements": {"temperatureClass": "frozen"},
        },
        key=uuid.uuid4().hex,
    )
    problem = refused(answer, 422, "RequirementNotMet")
    assert problem["errors"] == [
        {
            "pointer": "/requirements/temperatureClass",
            "detail": "the locker has no frozen compartment",
        }
    ]
    cold.spec.validate("problem", problem)
    assert (await cold.get("/v1/parcels/WAW-ICE")).status_code == 404


async def test_a_reach_range_no_door_lies_in_is_a_specific_problem(cold: Site) -> None:
    high = {"accessibleHeightMm": {"min": 1800, "max": 2400}}
    problem = refused(await post(cold, "GDA-HIGH", requirements=high), 422, "RequirementNotMet")
    assert [e["pointer"] for e in problem["errors"]] == ["/requirements/accessibleHeightMm"]
    assert "1800..2400" in problem["errors"][0]["detail"]


async def test_requirements_each_met_but_not_together(cold: Site) -> None:
    # A chilled door exists (K01, K02), doors within reach exist, but no chilled one is.
    wanted = {"temperatureClass": "chilled", "accessibleHeightMm": {"min": 400, "max": 1200}}
    problem = refused(await post(cold, "GDA-BOTH", requirements=wanted), 422, "RequirementNotMet")
    assert [e["pointer"] for e in problem["errors"]] == ["/requirements"]
    # Within reach and frozen: F01 (700..1110) takes it.
    ok = {"temperatureClass": "frozen", "accessibleHeightMm": {"min": 400, "max": 1200}}
    assert (await booked(cold, "GDA-BOTH-ICE", requirements=ok))["compartmentCode"] == "F01"


async def test_size_and_requirement_together(cold: Site) -> None:
    # Chilled doors are S and M: an L chilled parcel can never fit.
    answer = await post(
        cold, "GDA-BIG", sizeClass="L", requirements={"temperatureClass": "chilled"}
    )
    problem = refused(answer, 422, "RequirementNotMet")
    assert [e["pointer"] for e in problem["errors"]] == ["/requirements"]


async def test_an_announcement_without_a_door_is_checked_at_once(cold: Site) -> None:
    answer = await post(
        cold, "GDA-LATER", reserve=False, requirements={"accessibleHeightMm": {"min": 1, "max": 50}}
    )
    refused(answer, 422, "RequirementNotMet")
    parcel = await booked(
        cold, "GDA-LATER-OK", reserve=False, requirements={"temperatureClass": "frozen"}
    )
    assert parcel["state"] == "announced"
    assert parcel["compartmentCode"] is None
    # Reserving later still honours the requirement.
    reserved = await cold.post("/v1/parcels/GDA-LATER-OK/reserve", {}, key=uuid.uuid4().hex)
    assert reserved.status_code == 200, reserved.text
    assert reserved.json()["compartmentCode"] == "F01"


async def test_requirements_survive_a_redirect(cold: Site) -> None:
    parcel = await booked(cold, "GDA-MOVE", requirements={"temperatureClass": "chilled"})
    stored = await cold.gateway.parcels.get("acme", "GDA-MOVE")
    await cold.gateway.parcels.apply_action(stored.uid, ParcelAction.DEPOSIT)
    # Warsaw has no chilled compartment: the redirect is refused and the parcel stays.
    answer = await cold.post(
        "/v1/parcels/GDA-MOVE/redirect",
        {"lockerId": "WAW-CENTRAL-01", "newParcelId": "GDA-MOVE-2"},
        key=uuid.uuid4().hex,
    )
    refused(answer, 422, "RequirementNotMet")
    again = (await cold.get("/v1/parcels/GDA-MOVE")).json()
    assert again["state"] == "ready_for_pickup"
    assert again["compartmentCode"] == parcel["compartmentCode"]


@pytest.mark.parametrize(
    ("requirements", "pointer"),
    [
        ({}, "/requirements"),
        ({"temperatureClass": "warm"}, "/requirements/temperatureClass"),
        ({"accessibleHeightMm": {"min": 1200, "max": 400}}, "/requirements/accessibleHeightMm"),
        ({"pickupCheck": {"identity": False}}, "/requirements/pickupCheck"),
        ({"pickupCheck": {"minimumAge": 12}}, "/requirements/pickupCheck/minimumAge"),
    ],
)
async def test_malformed_requirements_name_the_field(
    cold: Site, requirements: dict[str, Any], pointer: str
) -> None:
    problem = refused(
        await post(cold, "GDA-BAD", requirements=requirements), 422, "PropertyConstraintViolation"
    )
    pointers = [e["pointer"] for e in problem["errors"]]
    assert any(p.startswith(pointer) for p in pointers), pointers


async def test_a_pickup_check_on_a_drop_off_is_refused(cold: Site) -> None:
    answer = await post(
        cold, "GDA-RET", direction="first_mile", requirements={"pickupCheck": {"identity": True}}
    )
    problem = refused(answer, 422, "PropertyConstraintViolation")
    assert [e["pointer"] for e in problem["errors"]] == ["/requirements/pickupCheck"]


async def test_the_pickup_grant_carries_the_check(cold: Site) -> None:
    check = {"minimumAge": 18, "identity": True}
    await booked(cold, "GDA-WINE", requirements={"pickupCheck": check})
    await booked(cold, "GDA-BREAD")
    jwks = (await cold.client.get("/.well-known/jwks.json")).json()
    verifier = GrantVerifier(
        keys={jwk["kid"]: public_key_of(jwk) for jwk in jwks["keys"]},
        issuer=NETWORK,
        clock=cold.clock,
    )

    async def grant(parcel_id: str) -> dict[str, Any]:
        answer = await cold.post(f"/v1/parcels/{parcel_id}/grants", {})
        assert answer.status_code == 201, answer.text
        claims = verifier.verify(answer.json()["token"], locker_id=LOCKER).to_json()
        cold.spec.validate("olp-grant", claims)
        return claims

    # The deposit grant says nothing about the recipient's check; the pickup grant does.
    assert "chk" not in await grant("GDA-WINE")
    for parcel_id in ("GDA-WINE", "GDA-BREAD"):
        stored = await cold.gateway.parcels.get("acme", parcel_id)
        await cold.gateway.parcels.apply_action(stored.uid, ParcelAction.DEPOSIT)
    assert (await grant("GDA-WINE"))["chk"] == check
    assert "chk" not in await grant("GDA-BREAD")


async def test_availability_lists_cold_doors_apart(cold: Site) -> None:
    detail = (await cold.get(f"/v1/lockers/{LOCKER}")).json()
    cold.spec.validate("locker", detail)
    assert detail["availability"] == [
        {"sizeClass": "S", "available": 3, "total": 3},
        {"sizeClass": "S", "available": 1, "total": 1, "temperatureClass": "chilled"},
        {"sizeClass": "M", "available": 1, "total": 1},
        {"sizeClass": "M", "available": 1, "total": 1, "temperatureClass": "chilled"},
        {"sizeClass": "M", "available": 1, "total": 1, "temperatureClass": "frozen"},
    ]
    # Fill the ambient doors: the locker no longer has room for a plain M parcel, although a
    # chilled and a frozen M are free.
    for n in range(4):
        await booked(cold, f"GDA-FILL-{n}")
    found = (await cold.get("/v1/lockers", sizeClass="M")).json()["items"]
    assert LOCKER not in [item["id"] for item in found]
    detail = (await cold.get(f"/v1/lockers/{LOCKER}")).json()
    ambient = [a for a in detail["availability"] if "temperatureClass" not in a]
    assert [a["available"] for a in ambient] == [0, 0]


async def test_a_batch_item_no_door_can_meet_is_refused_alone(cold: Site) -> None:
    entries = [
        {"parcelId": "GDA-B-1", "lockerId": LOCKER, "sizeClass": "S"},
        {
            "parcelId": "GDA-B-2",
            "lockerId": "WAW-CENTRAL-01",
            "sizeClass": "S",
            "requirements": {"temperatureClass": "chilled"},
        },
        {
            "parcelId": "GDA-B-3",
            "lockerId": LOCKER,
            "sizeClass": "S",
            "requirements": {"temperatureClass": "chilled"},
        },
    ]
    answer = await cold.post("/v1/parcels:batch", {"parcels": entries}, key=uuid.uuid4().hex)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    cold.spec.validate("parcel-batch-result", body)
    assert [i["status"] for i in body["items"]] == [201, 422, 201]
    problem = body["items"][1]["problem"]
    assert problem["code"] == "RequirementNotMet"
    assert [e["pointer"] for e in problem["errors"]] == ["/parcels/1/requirements/temperatureClass"]
    assert body["items"][2]["parcel"]["compartmentCode"] == "K02"
