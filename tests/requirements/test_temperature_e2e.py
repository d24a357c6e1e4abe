"""Temperature classes end to end: the emulator's thermometer, its alarm, the gateway's fault
record, allocation around an alarmed door, and the network event to carriers."""

from __future__ import annotations

import asyncio

import pytest
from locker_emulator.physics import PhysicsError

from tests.requirements.conftest import Cold

EVENTS = ["locker.temperature_alarm", "locker.temperature_cleared"]


@pytest.fixture
def cold(cold_site: Cold) -> Cold:
    return cold_site


async def test_a_warm_fridge_is_a_fault_an_event_and_no_new_bookings(cold: Cold) -> None:
    for carrier, path in ((cold.acme, "/acme"), (cold.globex, "/globex")):
        sub = await cold.post(
            "/v1/webhooks", {"url": cold.receiver.url(path), "events": EVENTS}, carrier=carrier
        )
        assert sub.status_code == 201, sub.text
    # The emulator's State carries the fridge's thermometer from the start (telemetry).
    state = cold.locker.model.state_payload()
    readings = {c["code"]: c.get("temperatureC") for c in state["compartments"]}
    assert (readings["K01"], readings["F01"], readings["A01"]) == (5.0, -20.0, None)

    wanted = {"temperatureClass": "chilled"}
    booked = await cold.book("GROCER-1", sizeClass="M", requirements=wanted)
    assert booked.status_code == 201, booked.text
    assert booked.json()["compartmentCode"] == "K01"

    # K02's cooler fails: the locker raises the alarm, the gateway records it...
    cold.locker.set_temperature("K02", 11.5)
    door = await cold.alarm_is("K02", True)
    assert door["temperature"]["celsius"] == 11.5
    assert door["temperatureClass"] == "chilled"
    # ...and K02 takes no chilled parcel meanwhile; K01 holds one: 409 says why.
    refused = await cold.book("GROCER-2", requirements=wanted)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "NoCompartmentAvailable"
    assert "out of its temperature range" in refused.json()["detail"]
    # ...and the locker's availability does not count it as free.
    detail = await cold.client.get("/v1/lockers/GDA-COLD-01", headers=cold.acme.auth())
    chilled = [a for a in detail.json()["availability"] if a.get("temperatureClass") == "chilled"]
    assert [(a["sizeClass"], a["available"]) for a in chilled] == [("S", 0), ("M", 0)]
    # Ambient bookings are not touched by it.
    assert (await cold.book("PLAIN-1")).status_code == 201

    # K01 holds acme's parcel: its temperature alarm tells acme which parcel, globex not.
    cold.locker.set_temperature("K01", 9.0)
    await cold.alarm_is("K01", True)
    await cold.receiver.wait_for(2, path="/acme")
    await cold.receiver.wait_for(2, path="/globex")
    acme_k01 = cold.receiver.delivered("/acme")[1].json()
    globex_k01 = cold.receiver.delivered("/globex")[1].json()
    for body in (acme_k01, globex_k01, *(r.json() for r in cold.receiver.delivered())):
        cold.gateway.spec.validate("webhook-locker-event", body)
    assert acme_k01["type"] == "locker.temperature_alarm"
    assert acme_k01["temperature"] == {
        "compartmentCode": "K01",
        "temperatureClass": "chilled",
        "celsius": 9.0,
        "rangeC": {"low": 2.0, "high": 8.0},
    }
    assert acme_k01["parcelId"] == "GROCER-1"
    assert "parcelId" not in globex_k01
    assert globex_k01["eventId"] == acme_k01["eventId"]
    k02_alarm = cold.receiver.delivered("/globex")[0].json()
    assert (k02_alarm["temperature"]["compartmentCode"], "parcelId" in k02_alarm) == ("K02", False)

    # Back in range: cleared once, and K02 takes chilled parcels again.
    cold.locker.set_temperature("K02", 4.0)
    door = await cold.alarm_is("K02", False)
    assert door["temperature"]["celsius"] == 4.0
    await cold.receiver.wait_for(3, path="/acme")
    cleared = cold.receiver.delivered("/acme")[2].json()
    assert (cleared["type"], cleared["temperature"]["celsius"]) == (
        "locker.temperature_cleared",
        4.0,
    )
    again = await cold.book("GROCER-3", requirements=wanted)
    assert again.status_code == 201, again.text
    assert again.json()["compartmentCode"] == "K02"
    # A reading that stays in range raises nothing more.
    cold.locker.set_temperature("K02", 6.0)
    await asyncio.sleep(0.5)
    assert len(cold.receiver.delivered("/acme")) == 3


async def test_ambient_doors_have_no_thermometer(cold: Cold) -> None:
    with pytest.raises(PhysicsError, match="ambient"):
        cold.locker.set_temperature("A01", 30.0)
    door = await cold.door("A01")
    assert "temperature" not in door
    assert door["temperatureClass"] == "ambient"
    assert door["floorMm"] == 100
