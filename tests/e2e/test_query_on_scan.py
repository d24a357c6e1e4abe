"""Query on scan through the emulated locker (SPEC section 17): a courier scans a parcel id at
the locker, the locker asks the gateway with ScanParcel, the gateway answers from the parcel's
pre-advice or from the scan policy (the carrier's, else the network's) and opens the door.

The network refuses parcels never pre-advised; carrier `acme` has chosen `hold` (take them
in, to wait for its confirmation); carrier `globex` has no policy of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from locker_emulator.control_api import ControlApi
from locker_emulator.parcel_scan import BadLabel, NotReady, ScanReply

from gateway.app import Gateway
from gateway.domain.audit import AuditAction
from gateway.service.audit import AuditService
from tests.e2e.conftest import LOCKER, Site, emulated_site
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock
from tests.support.mosquitto import Mosquitto

OTHER_LOCKER = "KRK-MAIN-01"
SIZES = {"A01": "XS", "A02": "XS", "L01": "L", "X01": "XL"} | {
    f"{bank}0{n}": size for bank, size in (("S", "S"), ("M", "M")) for n in (1, 2, 3)
}


@pytest.fixture
async def site(database_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    """The e2e site with a second carrier (globex), a second locker (not emulated) and the
    scan policies: the network refuses, acme holds."""
    carrier = TestCarrier.ed25519("acme", NETWORK)
    clock = MovableClock()
    scan = {"policy": "refuse", "carriers": {"acme": "hold"}}
    with Mosquitto(tmp_path / "mqtt") as broker:
        settings = settings_for(database_url, mqtt_url=broker.url, open_timeout_s=3.0, scan=scan)
        async with Gateway(settings=settings, clock=clock) as gateway:
            await gateway.carriers.register("acme", carrier.jwks)
            await gateway.carriers.register("globex", GLOBEX.jwks)
            await provision(gateway, "waw-central.yaml", "krk-main.yaml")
            async with emulated_site(gateway, broker, carrier, clock) as site:
                yield site
                await gateway.locker_side.scans.settle()


GLOBEX = TestCarrier.p256("globex", NETWORK)


async def open_round(site: Site, carrier: TestCarrier | None = None) -> str:
    """A courier session of `carrier` (acme by default) at the locker: its courier is there.
    The session's id."""
    headers = (carrier or site.carrier).auth(iat=site.clock().timestamp())
    headers["Idempotency-Key"] = f"round-{(carrier or site.carrier).carrier_id}"
    response = await site.client.post(
        "/v1/courier-sessions", json={"lockerId": LOCKER}, headers=headers
    )
    assert response.status_code == 201, response.text
    session_id: str = response.json()["sessionId"]
    return session_id


async def scanned(site: Site, parcel_id: str, size: str | None = None) -> ScanReply:
    reply = await asyncio.wait_for(site.locker.scan_parcel(parcel_id, size), 10)
    assert reply.answered, reply
    return reply


async def audited(site: Site, parcel_id: str) -> list[dict[str, Any]]:
    """The audit entries of this parcel id's scans, oldest first."""
    records = await AuditService(store=site.gateway.store).latest(
        50, action=AuditAction.PARCEL_SCANNED
    )
    return [dict(r.details) for r in records if r.details["parcelId"] == parcel_id]


async def test_unadvised_parcel_of_a_holding_carrier_is_taken_in_and_waits(site: Site) -> None:
    session_id = await open_round(site)
    reply = await scanned(site, "SCAN-NEW-1", "M")
    assert (reply.decision, reply.unadvised, reply.reason) == ("Accepted", True, None)
    door = reply.compartment_code
    assert door is not None
    assert SIZES[door] == "M"
    assert site.locker.display is not None
    assert door in site.locker.display["text"]

    # The gateway opens the door for the deposit; the courier puts the parcel in.
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.deposit(door)
    await site.wait_state("SCAN-NEW-1", "ready_for_pickup")

    parcel = (await site.get("/v1/parcels/SCAN-NEW-1")).json()
    site.gateway.spec.validate("parcel", parcel)
    assert (parcel["lockerId"], parcel["compartmentCode"]) == (LOCKER, door)
    # It waits for its carrier's confirmation: the pickup window is the confirmation window.
    ready_at = datetime.fromisoformat(parcel["updatedAt"])
    until = datetime.fromisoformat(parcel["pickupUntil"])
    assert (until - ready_at).total_seconds() == pytest.approx(48 * 3600, abs=5)
    events = (await site.get("/v1/parcels/SCAN-NEW-1/events")).json()["items"]
    first = events[0]
    assert first["type"] == "parcel.announced"
    assert first["details"] == {
        "by": "scan",
        "unadvised": True,
        "lockerId": LOCKER,
        "sizeClass": "M",
    }
    assert [e["type"] for e in events][-1] == "parcel.ready_for_pickup"
    # It was the round's deposit: the courier session reads it done.
    round_ = (await site.get(f"/v1/courier-sessions/{session_id}")).json()
    site.gateway.spec.validate("courier-session", round_)
    statuses = {i["parcelId"]: (i["task"], i["status"]) for i in round_["items"]}
    assert statuses == {"SCAN-NEW-1": ("deposit", "done")}
    # The carrier confirms by acting on it: a pickup code for its recipient.
    assert len(await site.code("SCAN-NEW-1")) >= 8

    (entry,) = await audited(site, "SCAN-NEW-1")
    assert entry == {
        "parcelId": "SCAN-NEW-1",
        "decision": "Accepted",
        "compartmentCode": door,
        "unadvised": True,
        "carrierId": "acme",
    }
    # Scanned again, now inside: nothing to deposit.
    again = await scanned(site, "SCAN-NEW-1")
    assert (again.decision, again.reason) == ("Refused", "NotDepositable")


async def test_without_a_courier_round_nobody_owns_the_parcel(site: Site) -> None:
    reply = await scanned(site, "SCAN-ORPHAN")
    assert (reply.decision, reply.reason, reply.compartment_code) == ("Refused", "NoCarrier", None)
    assert "NoCarrier" in (site.locker.display or {}).get("text", "")
    assert (await site.get("/v1/parcels/SCAN-ORPHAN")).status_code == 404
    assert await audited(site, "SCAN-ORPHAN") == [
        {"parcelId": "SCAN-ORPHAN", "decision": "Refused", "reason": "NoCarrier"}
    ]


async def test_the_network_policy_refuses_for_a_carrier_without_its_own(site: Site) -> None:
    await open_round(site, GLOBEX)
    before = {code: site.locker.unlock_count(code) for code in SIZES}
    reply = await scanned(site, "SCAN-GLOBEX", "S")
    assert (reply.decision, reply.reason) == ("Refused", "PolicyRefused")
    # Nothing booked, nothing opened.
    headers = GLOBEX.auth(iat=site.clock().timestamp())
    response = await site.client.get("/v1/parcels/SCAN-GLOBEX", headers=headers)
    assert response.status_code == 404
    await asyncio.sleep(0.3)
    assert {code: site.locker.unlock_count(code) for code in SIZES} == before


async def test_a_pre_advised_parcel_is_found_and_its_door_opened(site: Site) -> None:
    door = (await site.book("SCAN-KNOWN", "L"))["compartmentCode"]
    reply = await scanned(site, "SCAN-KNOWN")  # no courier round needed: the parcel is known
    assert (reply.decision, reply.compartment_code, reply.unadvised) == ("Accepted", door, False)
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.deposit(door)
    await site.wait_state("SCAN-KNOWN", "ready_for_pickup")


async def test_a_parcel_pre_advised_for_another_locker_is_refused(site: Site) -> None:
    body = {"parcelId": "SCAN-KRK", "lockerId": OTHER_LOCKER, "sizeClass": "S"}
    booked = await site.post("/v1/parcels", body, key="book-krk")
    assert booked.status_code == 201, booked.text
    await open_round(site)  # acme would take an unknown parcel in: this one is known
    reply = await scanned(site, "SCAN-KRK")
    assert (reply.decision, reply.reason) == ("Refused", "OtherLocker")
    assert (await site.get("/v1/parcels/SCAN-KRK")).json()["lockerId"] == OTHER_LOCKER


async def test_no_free_compartment_of_the_size_is_refused(site: Site) -> None:
    await open_round(site)
    assert (await scanned(site, "SCAN-XL-1", "XL")).decision == "Accepted"
    reply = await scanned(site, "SCAN-XL-2", "XL")  # the one XL door is taken
    assert (reply.decision, reply.reason) == ("Refused", "NoCompartment")
    assert (await site.get("/v1/parcels/SCAN-XL-2")).status_code == 404


async def test_a_label_that_is_no_parcel_id_is_not_sent(site: Site) -> None:
    with pytest.raises(BadLabel):
        await site.locker.scan_parcel("not a parcel id!")
    with pytest.raises(BadLabel):
        await site.locker.scan_parcel("SCAN-SIZE", "XXL")
    # Refused before the wire: no invalid message was even attempted.
    assert site.locker.model.invalid_outgoing == 0
    assert site.locker.last_scan is None


async def test_the_control_api_relays_scans(site: Site) -> None:
    """The emulator's control API: what a kiosk or a script uses to scan."""
    api = ControlApi(lockers=site.bank.lockers, port=0)
    await api.start()
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:
            path = f"/lockers/{LOCKER}/scan-parcel"
            ok = await http.post(path, json={"parcelId": "SCAN-API"})
            assert ok.status_code == 200, ok.text
            assert (ok.json()["decision"], ok.json()["reason"]) == ("Refused", "NoCarrier")
            bad = await http.post(path, json={"parcelId": "a b"})
            assert bad.status_code == 400, bad.text
            missing = await http.post(path, json={})
            assert missing.status_code == 400, missing.text
            size = await http.post(path, json={"parcelId": "SCAN-API", "sizeClass": "XXL"})
            assert size.status_code == 400, size.text
    finally:
        await api.stop()


async def test_a_locker_that_is_not_booted_cannot_ask(site: Site) -> None:
    site.locker.go_offline(5)
    await asyncio.wait_for(site.locker.wait_until(lambda: not site.locker.online), 10)
    with pytest.raises(NotReady):
        await site.locker.scan_parcel("SCAN-OFFLINE")


async def test_a_door_that_does_not_open_goes_back_to_the_round(site: Site) -> None:
    session_id = await open_round(site)
    door = (await site.book("SCAN-STUCK", "L"))["compartmentCode"]
    site.locker.update_compartment_faults(door, {"stuck_lock": True})
    reply = await scanned(site, "SCAN-STUCK")
    assert (reply.decision, reply.compartment_code) == ("Accepted", door)
    await site.gateway.locker_side.scans.settle()  # the open ran and failed
    assert site.locker.compartment(door).door == "closed"
    assert await site.state("SCAN-STUCK") == "reserved"

    async def pending() -> list[tuple[str, str]]:
        body = (await site.get(f"/v1/courier-sessions/{session_id}")).json()
        return [(i["parcelId"], i["status"]) for i in body["items"]]

    # Not opened: the round offers the deposit again, and the session code opens it.
    assert await pending() == [("SCAN-STUCK", "pending")]
    site.locker.update_compartment_faults(door, {"stuck_lock": False})
    code = (await site.post(f"/v1/courier-sessions/{session_id}/code")).json()["code"]
    site.locker.enter_code(code)
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)


async def test_a_label_with_a_wrong_s10_check_digit_is_an_error_reply(site: Site) -> None:
    await open_round(site)
    reply = await asyncio.wait_for(site.locker.scan_parcel("RR123456789PL", "S"), 10)
    assert not reply.answered
    assert reply.error is not None
    assert reply.error["code"] in {"FormatViolation", "PropertyConstraintViolation"}
    assert "check digit" in reply.error["description"]
    assert (await site.get("/v1/parcels/RR123456789PL")).status_code == 404
    # A valid S10 id is taken in.
    assert (await scanned(site, "RR123456785PL", "S")).decision == "Accepted"


async def test_a_parcel_announced_without_a_compartment_takes_one_at_the_scan(
    site: Site,
) -> None:
    body = {"parcelId": "SCAN-LATER", "lockerId": LOCKER, "sizeClass": "XS", "reserve": False}
    booked = await site.post("/v1/parcels", body, key="book-later")
    assert booked.status_code == 201, booked.text
    assert booked.json()["state"] == "announced"
    reply = await scanned(site, "SCAN-LATER")
    assert (reply.decision, reply.unadvised) == ("Accepted", False)
    assert reply.compartment_code in {"A01", "A02"}  # the XS doors
    parcel = (await site.get("/v1/parcels/SCAN-LATER")).json()
    assert (parcel["state"], parcel["compartmentCode"]) == ("reserved", reply.compartment_code)
    await asyncio.wait_for(site.locker.wait_door(reply.compartment_code, "open"), 10)
