"""A parcel really travels: booked over HTTP, deposited and picked up at the emulated locker."""

from __future__ import annotations

import asyncio

from tests.e2e.conftest import LOCKER, Site, eventually


async def locker_online(site: Site) -> bool | None:
    """Whether the gateway holds the locker online (its session row, what every instance reads)."""
    async with site.gateway.store.transaction() as tx:
        session = await tx.sessions.get(LOCKER)
    return None if session is None else session.online


async def test_keypad_deposit_then_keypad_pickup(site: Site) -> None:
    parcel = await site.book("E2E-1")
    door = parcel["compartmentCode"]

    site.locker.enter_code(await site.code("E2E-1"))
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.deposit(door)
    await site.wait_state("E2E-1", "ready_for_pickup")

    site.locker.enter_code(await site.code("E2E-1"))
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.take(door)
    await site.wait_state("E2E-1", "picked_up")

    history = (await site.get("/v1/parcels/E2E-1/events")).json()["items"]
    assert [e["toState"] for e in history] == [
        "announced",
        "reserved",
        "ready_for_pickup",
        "picked_up",
    ]
    detail = (await site.get(f"/v1/lockers/{LOCKER}")).json()
    small = next(a for a in detail["availability"] if a["sizeClass"] == "S")
    assert small["available"] == small["total"]  # the compartment is free again
    compartment = next(c for c in await site.gateway.lockers.compartments(LOCKER) if c.code == door)
    assert (compartment.door.value, compartment.item.value) == ("closed", "absent")


async def test_remote_open_answers_the_real_outcome(site: Site) -> None:
    parcel = await site.book("E2E-2")
    door = parcel["compartmentCode"]
    response = await site.post("/v1/parcels/E2E-2/open", key="open-e2e-2a")
    assert response.status_code == 200, response.text
    result = response.json()
    site.gateway.spec.validate("open-result", result)
    assert result == {
        "outcome": "Unlocked",
        "purpose": "deposit",
        "lockerId": LOCKER,
        "compartmentCode": door,
        "parcelState": "reserved",
    }
    assert site.locker.compartment(door).door.value == "open"
    # A replay returns the first answer and opens nothing again.
    site.locker.deposit(door)
    await site.wait_state("E2E-2", "ready_for_pickup")
    replay = await site.post("/v1/parcels/E2E-2/open", key="open-e2e-2a")
    assert replay.json() == result
    assert site.locker.compartment(door).door.value == "closed"


async def test_door_closed_empty_fails_the_deposit_and_frees_the_compartment(site: Site) -> None:
    parcel = await site.book("E2E-3")
    door = parcel["compartmentCode"]
    await site.post("/v1/parcels/E2E-3/open", key="open-e2e-3")
    site.locker.close(door)
    await site.wait_state("E2E-3", "deposit_failed")
    again = await site.book("E2E-3b")
    assert again["compartmentCode"] == door


async def test_jammed_door_takes_the_compartment_out_of_service(site: Site) -> None:
    parcel = await site.book("E2E-4")
    door = parcel["compartmentCode"]
    site.locker.update_compartment_faults(door, {"jammed": True})
    response = await site.post("/v1/parcels/E2E-4/open", key="open-e2e-4")
    assert response.json()["outcome"] == "DoorJammed"
    assert await site.state("E2E-4") == "deposit_failed"
    compartments = await site.gateway.lockers.compartments(LOCKER)
    jammed = next(c for c in compartments if c.code == door)
    assert jammed.state.value == "out_of_service"
    assert jammed.door.value == "jammed"
    assert (await site.book("E2E-4b"))["compartmentCode"] != door


async def test_wrong_or_reused_codes_open_nothing(site: Site) -> None:
    parcel = await site.book("E2E-5")
    door = parcel["compartmentCode"]
    code = await site.code("E2E-5")
    wrong = "0" * 8 if code != "0" * 8 else "1" * 8
    assert (await site.answer_to_code(wrong))["message"] == "CodeRejected"
    assert site.locker.compartment(door).door.value == "closed"
    # A new code replaces the old one: the first no longer works. The gateway's answer on the
    # display says it decided the entry; an open would have come before it.
    newer = await site.code("E2E-5")
    assert (await site.answer_to_code(code))["message"] == "CodeRejected"
    assert site.locker.unlock_count(door) == 0
    assert site.locker.compartment(door).door.value == "closed"
    site.locker.enter_code(newer)
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)


async def test_unlock_timeout_is_bounded_and_no_late_open(site: Site) -> None:
    parcel = await site.book("E2E-6")
    door = parcel["compartmentCode"]
    site.locker.update_faults({"slow_replies": 5.0})  # beyond the 3 s open timeout
    response = await site.post("/v1/parcels/E2E-6/open", key="open-e2e-6")
    assert response.status_code == 504, response.text
    assert response.json()["code"] == "Timeout"
    # The locker acts only after the command's `exp`: it drops it (its log says so) and
    # never opens. (How long the 504 takes: bench/open_timeouts.py.)
    dropped = await site.dropped("OpenCompartment", timeout=10)
    assert "exp" in dropped["note"], dropped
    assert site.locker.unlock_count(door) == 0
    assert site.locker.compartment(door).door.value == "closed"


async def test_expired_parcel_is_collected_by_the_courier(site: Site) -> None:
    parcel = await site.book("E2E-7")
    door = parcel["compartmentCode"]
    await site.post("/v1/parcels/E2E-7/open", key="open-e2e-7")
    site.locker.deposit(door)
    await site.wait_state("E2E-7", "ready_for_pickup")

    site.clock.advance(73 * 3600)  # past the default 72 h pickup window
    # The locker's clock moves on too: a code it stamped 73 h "ago" is a stale entry (SPEC §9).
    site.locker.update_faults({"clock_skew": 73 * 3600})
    assert await site.gateway.parcels.expire_due() == 1
    assert await site.state("E2E-7") == "expired"

    site.locker.enter_code(await site.code("E2E-7"))
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.take(door)
    await site.wait_state("E2E-7", "collected")


async def test_offline_locker_answers_quickly(site: Site) -> None:
    parcel = await site.book("E2E-8")
    site.locker.go_offline(30)
    # The broker publishes the locker's will; the gateway records it offline.
    await eventually(lambda: locker_online(site), False, 10)
    response = await site.post("/v1/parcels/E2E-8/open", key="open-e2e-8")
    # Known offline: refused at once as unavailable, never left to time out (504).
    # (How long the answer takes: bench/open_timeouts.py.)
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "Unavailable", response.json()
    assert "offline" in response.json()["detail"], response.json()
    assert site.locker.unlock_count(parcel["compartmentCode"]) == 0


async def test_jammed_door_at_pickup_fails_the_pickup(site: Site) -> None:
    parcel = await site.book("E2E-9")
    door = parcel["compartmentCode"]
    await site.post("/v1/parcels/E2E-9/open", key="open-e2e-9a")
    site.locker.deposit(door)
    await site.wait_state("E2E-9", "ready_for_pickup")
    site.locker.update_compartment_faults(door, {"jammed": True})
    response = await site.post("/v1/parcels/E2E-9/open", key="open-e2e-9b")
    assert response.json()["outcome"] == "DoorJammed"
    assert response.json()["parcelState"] == "pickup_failed"
    compartment = next(c for c in await site.gateway.lockers.compartments(LOCKER) if c.code == door)
    # The parcel is still inside, locked in: the compartment keeps it, out of service.
    assert (compartment.state.value, compartment.parcel_uid is not None) == ("out_of_service", True)
