"""A deposit never goes into a compartment whose temperature is out of range: every gateway-
opened deposit (remote open, keypad code, courier session round) moves the reservation to
another free door meeting the parcel's requirements, or is refused (409 CompartmentAlarmed,
and the keypad says why) so the cold chain is kept. Real gateway, emulator and broker;
the emulator's thermometer raises the alarm."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.requirements.conftest import LOCKER, Cold, wait_state

CHILLED = {"temperatureClass": "chilled"}


@pytest.fixture
def cold(cold_site: Cold) -> Cold:
    return cold_site


async def booked_into(cold: Cold, parcel_id: str, size: str = "S") -> str:
    booked = await cold.book(parcel_id, sizeClass=size, requirements=CHILLED)
    assert booked.status_code == 201, booked.text
    door: str = booked.json()["compartmentCode"]
    return door


async def parcel(cold: Cold, parcel_id: str) -> dict[str, Any]:
    answer = await cold.client.get(f"/v1/parcels/{parcel_id}", headers=cold.acme.auth())
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def code_for(cold: Cold, parcel_id: str) -> str:
    issued = await cold.post(f"/v1/parcels/{parcel_id}/codes", {})
    assert issued.status_code == 201, issued.text
    code: str = issued.json()["code"]
    return code


async def keypad_answer(cold: Cold, code: str) -> dict[str, Any]:
    shown = cold.locker.display
    cold.locker.enter_code(code)
    async with asyncio.timeout(10):
        await cold.locker.wait_until(lambda: cold.locker.display is not shown)
    answer = cold.locker.display
    assert answer is not None
    return answer


async def opened(cold: Cold, door: str, times: int = 1) -> None:
    async with asyncio.timeout(10):
        await cold.locker.wait_until(lambda: cold.locker.unlock_count(door) >= times)


async def test_a_remote_open_moves_the_deposit_off_an_alarmed_door(cold: Cold) -> None:
    assert await booked_into(cold, "COLD-1") == "K02"
    cold.locker.set_temperature("K02", 11.5)
    await cold.alarm_is("K02", True)

    answer = await cold.post("/v1/parcels/COLD-1/open", {})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    cold.gateway.spec.validate("open-result", body)
    # The door that opened is the healthy chilled one; the warm one stayed shut.
    assert (body["outcome"], body["compartmentCode"]) == ("Unlocked", "K01")
    assert cold.locker.unlock_count("K02") == 0
    assert (await parcel(cold, "COLD-1"))["compartmentCode"] == "K01"
    assert (await cold.door("K02"))["state"] == "available"
    cold.locker.deposit("K01")
    await wait_state(cold, "COLD-1", "ready_for_pickup")
    assert (await cold.door("K01"))["state"] == "occupied"


async def test_with_no_other_cold_door_the_deposit_is_refused_until_the_alarm_clears(
    cold: Cold,
) -> None:
    assert await booked_into(cold, "COLD-2") == "K02"
    assert await booked_into(cold, "COLD-3", size="M") == "K01"  # the only other chilled door
    cold.locker.set_temperature("K02", 12.0)
    await cold.alarm_is("K02", True)

    # The carrier's remote open: a specific problem, and nothing opened.
    refused = await cold.post("/v1/parcels/COLD-2/open", {})
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    cold.gateway.spec.validate("problem", problem)
    assert problem["code"] == "CompartmentAlarmed"
    assert "K02" in problem["detail"]
    assert "temperature range" in problem["detail"]
    assert cold.locker.unlock_count("K02") == 0
    # An ambient door is free, but a chilled parcel never goes there.
    assert (await parcel(cold, "COLD-2"))["compartmentCode"] == "K02"

    # The keypad: the courier is told why, the code is not used up, nothing opened.
    code = await code_for(cold, "COLD-2")
    shown = await keypad_answer(cold, code)
    assert shown["message"] == "Info"
    assert "temperature" in shown["text"]
    assert cold.locker.unlock_count("K02") == 0
    assert (await parcel(cold, "COLD-2"))["state"] == "reserved"

    # The alarm clears: the same code now opens the door it was booked into.
    cold.locker.set_temperature("K02", 4.0)
    await cold.alarm_is("K02", False)
    cold.locker.enter_code(code)
    await opened(cold, "K02")
    cold.locker.deposit("K02")
    await wait_state(cold, "COLD-2", "ready_for_pickup")


async def test_a_keypad_code_and_a_courier_round_move_the_deposit(cold: Cold) -> None:
    # A parcel's keypad code: the reservation moves to K01 and K01 opens.
    assert await booked_into(cold, "COLD-4") == "K02"
    cold.locker.set_temperature("K02", 10.0)
    await cold.alarm_is("K02", True)
    cold.locker.enter_code(await code_for(cold, "COLD-4"))
    await opened(cold, "K01")
    assert cold.locker.unlock_count("K02") == 0
    cold.locker.deposit("K01")
    await wait_state(cold, "COLD-4", "ready_for_pickup")
    assert (await parcel(cold, "COLD-4"))["compartmentCode"] == "K01"

    # A courier session's round: K02 healthy when booked, then warm; no chilled door is left
    # (K01 holds COLD-4), so the round skips it and opens the ambient parcel's door only.
    cold.locker.set_temperature("K02", 4.0)
    await cold.alarm_is("K02", False)
    assert await booked_into(cold, "COLD-5") == "K02"
    plain = await cold.book("PLAIN-5")
    assert plain.status_code == 201, plain.text
    ambient = plain.json()["compartmentCode"]
    cold.locker.set_temperature("K02", 9.5)
    await cold.alarm_is("K02", True)
    session = await cold.post("/v1/courier-sessions", {"lockerId": LOCKER})
    assert session.status_code == 201, session.text
    code = session.json()["code"]
    cold.locker.enter_code(code)
    await opened(cold, ambient)
    cold.locker.deposit(ambient)
    await wait_state(cold, "PLAIN-5", "ready_for_pickup")
    shown = await keypad_answer(cold, code)  # nothing else the round may open now
    assert shown["message"] == "Welcome"
    assert cold.locker.unlock_count("K02") == 0
    # Once a chilled door frees up, the round's next entry moves COLD-5 there and opens it.
    picked = await cold.post("/v1/parcels/COLD-4/open", {})
    assert picked.json()["outcome"] == "Unlocked", picked.text
    cold.locker.take("K01")
    await wait_state(cold, "COLD-4", "picked_up")
    cold.locker.enter_code(code)
    await opened(cold, "K01", times=3)
    assert cold.locker.unlock_count("K02") == 0
    assert (await parcel(cold, "COLD-5"))["compartmentCode"] == "K01"
