"""A courier's round through the emulated locker: one session code opens every door of the
round, deposits first, then the parcels to take back; the carrier reads the collection
manifest before and what the round did after."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from gateway.store.tables import door_sessions
from tests.e2e.conftest import LOCKER, Site, eventually


async def expired_parcel(site: Site, parcel_id: str) -> str:
    """A parcel deposited, its pickup window run out and its expiry recorded; its door."""
    door: str = (await site.book(parcel_id))["compartmentCode"]
    site.locker.enter_code(await site.code(parcel_id))
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.deposit(door)
    await site.wait_state(parcel_id, "ready_for_pickup")
    site.clock.advance(73 * 3600)  # past the default 72 h pickup window
    # The locker's clock moves on too: codes it stamps now are not stale entries (SPEC §9).
    site.locker.update_faults({"clock_skew": 73 * 3600})
    assert await site.gateway.parcels.expire_due() == 1
    assert await site.state(parcel_id) == "expired"
    return door


async def open_next(site: Site, code: str, doors: list[str]) -> str:
    """Type the session code; the door of `doors` that opens (no other one does)."""
    before = {door: site.locker.unlock_count(door) for door in doors}
    site.locker.enter_code(code)

    def opened() -> str | None:
        return next((d for d in doors if site.locker.unlock_count(d) > before[d]), None)

    async with asyncio.timeout(10):
        await site.locker.wait_until(lambda: opened() is not None)
    door = opened()
    assert door is not None
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    return door


async def test_one_code_opens_the_whole_round_then_stops(site: Site) -> None:
    old = await expired_parcel(site, "ROUND-OLD")
    first = (await site.book("ROUND-1"))["compartmentCode"]
    second = (await site.book("ROUND-2"))["compartmentCode"]
    deposits = sorted([first, second])

    manifest = await site.get(f"/v1/collection-manifest?lockerId={LOCKER}")
    assert manifest.status_code == 200, manifest.text
    site.gateway.spec.validate("collection-manifest", manifest.json())
    (line,) = manifest.json()["lockers"][0]["items"]
    assert (line["parcelId"], line["compartmentCode"], line["reason"]) == (
        "ROUND-OLD",
        old,
        "expired",
    )

    opened = await site.post("/v1/courier-sessions", {"lockerId": LOCKER, "courierRef": "route-7"})
    assert opened.status_code == 201, opened.text
    session = opened.json()
    site.gateway.spec.validate("courier-session", session)
    code, sid = session["code"], session["sessionId"]
    assert len(code) == 10
    assert opened.headers["Location"] == f"/v1/courier-sessions/{sid}"
    assert [(i["compartmentCode"], i["task"], i["status"]) for i in session["items"]] == [
        (deposits[0], "deposit", "pending"),
        (deposits[1], "deposit", "pending"),
        (old, "collect", "pending"),
    ]

    doors = [first, second, old]
    # First entry: the first deposit's door, the courier puts the parcel in.
    assert await open_next(site, code, doors) == deposits[0]
    site.locker.deposit(deposits[0])
    # Second: the other deposit's door; the courier closes it empty (the deposit fails).
    assert await open_next(site, code, doors) == deposits[1]
    site.locker.close(deposits[1])
    # Third: the expired parcel's door; the courier takes it.
    assert await open_next(site, code, doors) == old
    site.locker.take(old)
    by_id = {"ROUND-1": first, "ROUND-2": second}
    done = next(p for p, d in by_id.items() if d == deposits[0])
    failed = next(p for p, d in by_id.items() if d == deposits[1])
    await site.wait_state(done, "ready_for_pickup")
    await site.wait_state(failed, "deposit_failed")
    await site.wait_state("ROUND-OLD", "collected")

    # Nothing left: the code opens nothing more and the keypad says so.
    counts = {d: site.locker.unlock_count(d) for d in doors}
    assert (await site.answer_to_code(code))["message"] == "Welcome"
    assert {d: site.locker.unlock_count(d) for d in doors} == counts

    read = (await site.get(f"/v1/courier-sessions/{sid}")).json()
    site.gateway.spec.validate("courier-session", read)
    assert "code" not in read
    assert read["counts"] == {"pending": 0, "opened": 0, "done": 2, "failed": 1}

    closed = await site.post(f"/v1/courier-sessions/{sid}/close", {}, key="close-round-7")
    assert closed.status_code == 200, closed.text
    body = closed.json()
    site.gateway.spec.validate("courier-session", body)
    assert body["state"] == "closed"
    assert body["closedAt"] is not None
    statuses = {i["parcelId"]: (i["task"], i["status"], i["parcelState"]) for i in body["items"]}
    assert statuses == {
        done: ("deposit", "done", "ready_for_pickup"),
        failed: ("deposit", "failed", "deposit_failed"),
        "ROUND-OLD": ("collect", "done", "collected"),
    }
    replay = await site.post(f"/v1/courier-sessions/{sid}/close", {}, key="close-round-7")
    assert replay.json() == body

    # Closed: the code is forgotten; typed again it is a wrong code like any other.
    assert (await site.answer_to_code(code))["message"] == "CodeRejected"
    after = await site.get(f"/v1/collection-manifest?lockerId={LOCKER}")
    assert after.json()["lockers"] == [{"lockerId": LOCKER, "items": []}]
    assert after.json()["count"] == 0


async def test_a_door_that_did_not_open_is_offered_again(site: Site) -> None:
    door = (await site.book("ROUND-JAM"))["compartmentCode"]
    session = (await site.post("/v1/courier-sessions", {"lockerId": LOCKER})).json()
    site.locker.update_compartment_faults(door, {"stuck_lock": True})
    site.locker.enter_code(session["code"])
    sid = session["sessionId"]

    async def status() -> Any:
        read = (await site.get(f"/v1/courier-sessions/{sid}")).json()
        return [(i["parcelId"], i["status"]) for i in read["items"]]

    # The unlock fails; the door goes back to the round, pending for the next entry.
    await eventually(lambda: _unlock_failures(site), 1)
    await eventually(status, [("ROUND-JAM", "pending")])
    assert site.locker.unlock_count(door) == 0
    site.locker.update_compartment_faults(door, {"stuck_lock": False})
    assert await open_next(site, session["code"], [door]) == door
    assert await status() == [("ROUND-JAM", "opened")]


async def _unlock_failures(site: Site) -> int:
    """How many unlocks the gateway recorded as failed (door sessions ended unopened)."""
    async with site.gateway.store.engine.connect() as conn:
        rows = (await conn.execute(select(door_sessions.c.state))).scalars().all()
    return sum(1 for state in rows if state == "failed")


async def test_the_carrier_s_app_opens_the_next_door_once_per_key(site: Site) -> None:
    door = (await site.book("ROUND-APP"))["compartmentCode"]
    sid = (await site.post("/v1/courier-sessions", {"lockerId": LOCKER})).json()["sessionId"]
    path = f"/v1/courier-sessions/{sid}/open-next"

    site.locker.update_compartment_faults(door, {"stuck_lock": True})
    failed = await site.post(path, {}, key="next-app-1")
    assert failed.status_code == 200, failed.text
    assert failed.json()["outcome"] == "UnlockFailed"
    site.locker.update_compartment_faults(door, {"stuck_lock": False})

    opened = await site.post(path, {}, key="next-app-2")
    assert opened.status_code == 200, opened.text
    site.gateway.spec.validate("open-result", opened.json())
    assert opened.json() == {
        "outcome": "Unlocked",
        "purpose": "deposit",
        "lockerId": LOCKER,
        "compartmentCode": door,
        "parcelState": "reserved",
    }
    replay = await site.post(path, {}, key="next-app-2")
    assert replay.json() == opened.json()
    assert site.locker.unlock_count(door) == 1  # the replay opened nothing
    site.locker.deposit(door)
    await site.wait_state("ROUND-APP", "ready_for_pickup")

    left = await site.post(path, {}, key="next-app-3")
    assert left.status_code == 409, left.text
    assert left.json()["code"] == "IllegalTransition"
    await site.post(f"/v1/courier-sessions/{sid}/close", {}, key="close-app")
    closed = await site.post(path, {}, key="next-app-4")
    assert closed.status_code == 409, closed.text
    read = (await site.get(f"/v1/courier-sessions/{sid}")).json()
    assert read["counts"] == {"pending": 0, "opened": 0, "done": 1, "failed": 0}
