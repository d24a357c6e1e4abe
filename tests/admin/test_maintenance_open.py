"""An operator opens an empty compartment's door for inspection
(`POST /v1/admin/lockers/{lockerId}/compartments/{code}/open`): who may, what is refused, and,
against the real emulated locker, the door session it runs through; and `q` on the parcel
listing finds a parcel by its uid, parcel id or reference."""

from __future__ import annotations

import asyncio

import httpx

from gateway.domain.audit import AuditAction
from gateway.domain.door import DoorSessionState, OpenOutcome, OpenPurpose
from gateway.errors import IllegalTransition
from tests.admin.conftest import AdminSite, problem
from tests.admin.test_availability_at_locker import operator_desk
from tests.e2e.conftest import LOCKER, Site, eventually, site

__all__ = ["site"]

REASON = {"reason": "inspection: customer reports a smell"}


def open_path(code: str, locker_id: str = LOCKER) -> str:
    return f"/v1/admin/lockers/{locker_id}/compartments/{code}/open"


async def admin_entries(admin_site: AdminSite) -> list[str]:
    return [e.details["what"] for e in await admin_site.audit(AuditAction.ADMIN_ACTION)]


async def test_only_operators_open_and_never_a_parcel_s_door(admin_site: AdminSite) -> None:
    async with admin_site.client() as anonymous:
        problem(await anonymous.post(open_path("A01"), json=REASON), 401, "SecurityError")
        carrier = await anonymous.post(
            open_path("A01"), json=REASON, headers=admin_site.acme.auth()
        )
        assert "carrier token" in problem(carrier, 401, "SecurityError")["detail"]
    viewer = await admin_site.desk("vera")
    body = problem(await viewer.post(open_path("A01"), REASON), 403, "Forbidden")
    assert "operator role" in body["detail"]

    desk = await admin_site.desk("oscar")
    problem(await desk.post(open_path("A01"), REASON, csrf=False), 403, "Forbidden")
    problem(await desk.post(open_path("A01"), {}), 422, "PropertyConstraintViolation")
    problem(await desk.post(open_path("Z99"), REASON), 404, "NotFound")
    problem(await desk.post(open_path("A01", "NO-SUCH-LOCKER"), REASON), 404, "NotFound")

    # A compartment reserved for a parcel: that door is the parcel's remote open.
    booked = await admin_site.book("PX-MAINT-1")
    code = booked["compartmentCode"]
    body = problem(await desk.post(open_path(code), REASON), 409, "IllegalTransition")
    uid = await admin_site.uid("PX-MAINT-1")
    assert uid in body["detail"]
    assert "/v1/admin/parcels/{uid}/open" in body["detail"]
    # Nothing refused reached the audit trail, and no door session was started.
    assert "door.maintenance_open" not in await admin_entries(admin_site)
    async with admin_site.gateway.store.transaction() as tx:
        assert await tx.doors.latest(LOCKER, code) is None
        assert await tx.doors.latest(LOCKER, "Z99") is None


async def test_an_empty_door_opens_at_the_locker_and_closes_as_usual(site: Site) -> None:
    # Out of service (a door reported faulty) may be opened: inspecting it is the point.
    async with site.gateway.store.transaction() as tx:
        before = await tx.lockers.compartment(LOCKER, "M02")
        assert before is not None
        await tx.lockers.save_compartment(before, before.disable())
    async with operator_desk(site) as desk:  # oscar, signed in; his CSRF token on every call
        answer = await desk.post(open_path("M02"), json=REASON)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "outcome": "Unlocked",
            "purpose": "service",
            "lockerId": LOCKER,
            "compartmentCode": "M02",
        }
        # The locker itself opened that door.
        assert site.locker.compartment("M02").door == "open"
        assert site.locker.unlock_count("M02") == 1
        # A second open while the first one's door stands open is refused: no second unlock.
        again = await desk.post(open_path("M02"), json=REASON)
        assert "being opened already" in problem(again, 409, "IllegalTransition")["detail"]
        assert site.locker.unlock_count("M02") == 1

    async with site.gateway.store.transaction() as tx:
        (intent,) = await tx.audit.latest(1, action=AuditAction.ADMIN_ACTION.value)
        opened = await tx.audit.latest(5, action=AuditAction.DOOR_OPENED.value)
        session = await tx.doors.live(LOCKER, "M02")
    assert (intent.actor, intent.subject) == ("operator:oscar", f"{LOCKER}/M02")
    assert intent.details["what"] == "door.maintenance_open"
    assert intent.details["reason"] == REASON["reason"]
    gateway_side = [e for e in opened if not e.actor.startswith("locker:")]
    assert [(e.actor, e.details["purpose"]) for e in gateway_side] == [
        ("operator:oscar", "service")
    ]
    assert session is not None
    assert (session.purpose, session.parcel_uid) == (OpenPurpose.SERVICE, None)

    # The door is shut again: the session closes, the compartment stays as it was.
    site.locker.close("M02")

    async def door_closed() -> tuple[str, str]:
        async with site.gateway.store.transaction() as tx:
            found = await tx.lockers.compartment(LOCKER, "M02")
            last = await tx.doors.latest(LOCKER, "M02")
        assert found is not None
        assert last is not None
        return found.door.value, last.state.value

    await eventually(door_closed, ("closed", DoorSessionState.CLOSED.value), 10)
    async with site.gateway.store.transaction() as tx:
        after = await tx.lockers.compartment(LOCKER, "M02")
    assert after is not None
    assert (after.state.value, after.parcel_uid) == ("out_of_service", None)


async def test_a_jammed_door_takes_the_compartment_out_of_service(site: Site) -> None:
    site.locker.update_compartment_faults("M03", {"jammed": True})
    async with operator_desk(site) as desk:
        answer = await asyncio.wait_for(desk.post(open_path("M03"), json=REASON), 15)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "DoorJammed"
    async with site.gateway.store.transaction() as tx:
        found = await tx.lockers.compartment(LOCKER, "M03")
        last = await tx.doors.latest(LOCKER, "M03")
    assert found is not None
    assert last is not None
    assert (found.state.value, found.door.value) == ("out_of_service", "jammed")
    assert (last.state, last.outcome) == (DoorSessionState.FAILED, "DoorJammed")


async def test_parcels_are_found_by_uid_parcel_id_or_reference(admin_site: AdminSite) -> None:
    await admin_site.book("PX-FIND-1")
    await admin_site.book("PX-FIND-2")
    async with httpx.AsyncClient(base_url=admin_site.gateway.base_url) as carrier:
        body = {"parcelId": "PX-FIND-3", "lockerId": LOCKER, "sizeClass": "S"}
        headers = admin_site.acme.auth() | {"Idempotency-Key": "book-PX-FIND-3"}
        booked = await carrier.post(
            "/v1/parcels", json=body | {"reference": "ORDER 77"}, headers=headers
        )
        assert booked.status_code == 201, booked.text
    uid = await admin_site.uid("PX-FIND-2")
    desk = await admin_site.desk("vera")

    async def found(**query: str) -> list[str]:
        answer = await desk.get("/v1/admin/parcels", **query)
        assert answer.status_code == 200, answer.text
        return [item["parcel"]["parcelId"] for item in answer.json()["items"]]

    assert await found(q="PX-FIND-1") == ["PX-FIND-1"]
    assert await found(q=uid) == ["PX-FIND-2"]
    assert await found(q="ORDER 77") == ["PX-FIND-3"]  # the carrier's reference
    assert await found(q="PX-FIND") == []  # exact, not a prefix
    assert await found(q="PX-FIND-1", state="ready_for_pickup") == []
    assert await found(q="PX-FIND-1", state="reserved", lockerId=LOCKER) == ["PX-FIND-1"]
    problem(await desk.get("/v1/admin/parcels", q="x" * 129), 422, "PropertyConstraintViolation")


async def test_two_maintenance_opens_at_once_unlock_the_door_once(site: Site) -> None:
    """Two operators open the same empty door at the same moment. On PostgreSQL the second
    must wait for the first's compartment row lock *before* it looks for a live door session,
    or both see none, both start a session and the locker is told to unlock twice."""
    unlocks = site.gateway.locker_side.unlocks
    first_in = asyncio.Event()
    release = asyncio.Event()

    async def first_intent(_tx: object) -> None:
        first_in.set()
        await release.wait()  # the first transaction holds on, its session not started yet

    async def second_intent(_tx: object) -> None:
        pass

    first = asyncio.create_task(unlocks.open_empty(LOCKER, "M03", "operator:a", first_intent))
    await first_in.wait()
    second = asyncio.create_task(unlocks.open_empty(LOCKER, "M03", "operator:b", second_intent))
    await asyncio.sleep(0.5)  # the second reaches the database and waits there
    release.set()
    outcomes = await asyncio.gather(first, second, return_exceptions=True)
    assert outcomes[0] is OpenOutcome.UNLOCKED, outcomes
    assert isinstance(outcomes[1], IllegalTransition), outcomes
    assert "being opened already" in str(outcomes[1])
    assert site.locker.unlock_count("M03") == 1
