"""Admin reads and actions through the running server: lockers, compartments, parcels of every
carrier with filters and cursors, service state, force-expire, pickup, reassign, dead-letter
replay, keypad lockouts, the audit chain — every action audited with who, what and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.domain.audit import AuditAction
from gateway.domain.enums import ParcelAction
from tests.admin.conftest import AdminSite, Desk, problem
from tests.delivery.test_deliveries_api import attach, dead_connector_row

LOCKER = "/v1/admin/lockers/WAW-CENTRAL-01"


async def deposited(site: AdminSite, parcel_id: str) -> str:
    """A parcel ready for pickup: booked by the carrier, its deposit reported as a locker would."""
    await site.book(parcel_id)
    uid = await site.uid(parcel_id)
    await site.gateway.parcels.apply_action(uid, ParcelAction.DEPOSIT)
    return uid


async def actions(site: AdminSite) -> list[tuple[str, str, str]]:
    """(actor, what, reason) of every admin action in the audit chain, oldest first."""
    entries = await site.audit(AuditAction.ADMIN_ACTION, limit=100)
    return [(e.actor, e.details["what"], e.details["reason"]) for e in entries]


async def compartments(desk: Desk) -> dict[str, dict[str, Any]]:
    answer = await desk.get(LOCKER)
    assert answer.status_code == 200, answer.text
    return {c["code"]: c for c in answer.json()["compartments"]}


async def test_lockers_with_presence_and_compartments(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("vera")
    await admin_site.book("PX-LOCKERS-1")
    lockers = (await desk.get("/v1/admin/lockers")).json()["items"]
    assert [lk["lockerId"] for lk in lockers] == ["KRK-MAIN-01", "WAW-CENTRAL-01"]
    waw = lockers[1]
    assert waw["online"] is False  # no locker connected in this test
    assert waw["compartments"] == {"available": 9, "reserved": 1}
    doors = await compartments(desk)
    reserved = [c for c in doors.values() if c["state"] == "reserved"]
    assert len(reserved) == 1
    assert reserved[0]["parcel"]["parcelId"] == "PX-LOCKERS-1"
    assert (reserved[0]["door"], reserved[0]["itemSensor"]) == ("closed", "unknown")
    problem(await desk.get("/v1/admin/lockers/NOPE"), 404, "NotFound")


async def test_out_of_service_and_back_with_reasons(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("oscar")
    path = f"{LOCKER}/compartments/M01"
    off = await desk.post(f"{path}/out-of-service", {"reason": "door hinge broken"})
    assert off.json()["state"] == "out_of_service"
    problem(
        await desk.post(f"{path}/out-of-service", {"reason": "again"}), 409, "IllegalTransition"
    )
    # Nothing is booked into it meanwhile: the carrier API sees one M less.
    on = await desk.post(f"{path}/in-service", {"reason": "hinge replaced"})
    assert on.json()["state"] == "available"
    problem(await desk.post(f"{path}/in-service", {"reason": "x" * 5}), 409, "IllegalTransition")
    problem(
        await desk.post(f"{LOCKER}/compartments/Z99/in-service", {"reason": "nope"}),
        404,
        "NotFound",
    )
    missing = problem(
        await desk.post(f"{path}/out-of-service", {}), 422, "PropertyConstraintViolation"
    )
    assert missing["errors"][0]["pointer"] == "/reason"
    assert await actions(admin_site) == [
        ("operator:oscar", "compartment.out_of_service", "door hinge broken"),
        ("operator:oscar", "compartment.in_service", "hinge replaced"),
    ]


async def test_parcels_of_every_carrier_filtered_and_paged(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("vera")
    for n in range(5):
        await admin_site.book(f"PX-PAGE-{n}")
    ready = await deposited(admin_site, "PX-PAGE-READY")
    page = (await desk.get("/v1/admin/parcels", limit=2)).json()
    seen = [p["parcel"]["parcelId"] for p in page["items"]]
    while page["nextCursor"]:
        page = (await desk.get("/v1/admin/parcels", limit=2, cursor=page["nextCursor"])).json()
        seen += [p["parcel"]["parcelId"] for p in page["items"]]
    assert seen == [f"PX-PAGE-{n}" for n in range(5)] + ["PX-PAGE-READY"]
    only = (await desk.get("/v1/admin/parcels", state="ready_for_pickup")).json()["items"]
    assert [(p["uid"], p["carrierId"]) for p in only] == [(ready, "acme")]
    assert (await desk.get("/v1/admin/parcels", carrierId="globex")).json()["items"] == []
    assert (await desk.get("/v1/admin/parcels", lockerId="KRK-MAIN-01")).json()["items"] == []
    # Overdue: the pickup window has ended (the sweeper may not have expired it yet).
    assert (await desk.get("/v1/admin/parcels", overdue="true")).json()["items"] == []
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    expiring = (await desk.get("/v1/admin/parcels", pickupBefore=later)).json()["items"]
    assert [p["parcel"]["parcelId"] for p in expiring] == ["PX-PAGE-READY"]
    admin_site.clock.advance(4 * 24 * 3600)
    desk = await admin_site.desk("vera")  # the session ended long ago
    overdue = (await desk.get("/v1/admin/parcels", overdue="true")).json()["items"]
    assert [p["parcel"]["parcelId"] for p in overdue] == ["PX-PAGE-READY"]
    detail = (await desk.get(f"/v1/admin/parcels/{ready}")).json()
    assert [e["type"] for e in detail["events"]][-1] == "parcel.ready_for_pickup"
    for bad in ({"state": "lost"}, {"overdue": "yes"}, {"pickupBefore": "tomorrow"}, {"x": "1"}):
        problem(await desk.get("/v1/admin/parcels", **bad), 422, "PropertyConstraintViolation")
    problem(await desk.get("/v1/admin/parcels/no-such-uid"), 404, "NotFound")


async def test_force_expire_and_mark_picked_up(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("oscar")
    first = await deposited(admin_site, "PX-EXPIRE")
    second = await deposited(admin_site, "PX-PICKED")
    expired = await desk.post(f"/v1/admin/parcels/{first}/expire", {"reason": "shop closed"})
    assert expired.status_code == 200, expired.text
    assert expired.json()["parcel"]["state"] == "expired"
    picked = await desk.post(f"/v1/admin/parcels/{second}/picked-up", {"reason": "handed over"})
    assert picked.json()["parcel"]["state"] == "picked_up"
    # The compartment is free again, and the carrier's history says the network acted and why.
    events = (await desk.get(f"/v1/admin/parcels/{second}")).json()["events"]
    assert events[-1]["type"] == "parcel.picked_up"
    assert events[-1]["details"] == {"by": "operator", "reason": "handed over"}
    # What the lifecycle does not allow is a clear 409, and is not audited as done.
    refused = await desk.post(f"/v1/admin/parcels/{first}/picked-up", {"reason": "try"})
    problem(refused, 409, "IllegalTransition")
    assert await actions(admin_site) == [
        ("operator:oscar", "parcel.force_expire", "shop closed"),
        ("operator:oscar", "parcel.mark_picked_up", "handed over"),
    ]


async def test_reassign_moves_a_reservation_only(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("oscar")
    await admin_site.book("PX-MOVE")
    uid = await admin_site.uid("PX-MOVE")
    doors = await compartments(desk)
    (before,) = [c for c in doors.values() if c["state"] == "reserved"]
    target = next(
        code for code, c in doors.items() if c["sizeClass"] == "M" and c["state"] == "available"
    )
    body = {"lockerId": "WAW-CENTRAL-01", "compartment": target, "reason": "S door jams"}
    moved = await desk.post(f"/v1/admin/parcels/{uid}/reassign", body)
    assert moved.status_code == 200, moved.text
    doors = await compartments(desk)
    assert doors[target]["state"] == "reserved"
    assert doors[target]["parcel"]["uid"] == uid
    assert doors[before["code"]]["state"] == "available"
    # A smaller door does not fit; another locker is the carrier's redirect; a deposited
    # parcel moves only in a courier's hands.
    small = {**body, "compartment": "A01"}
    problem(await desk.post(f"/v1/admin/parcels/{uid}/reassign", small), 409, "IllegalTransition")
    other = {**body, "lockerId": "KRK-MAIN-01"}
    detail = problem(
        await desk.post(f"/v1/admin/parcels/{uid}/reassign", other), 409, "IllegalTransition"
    )["detail"]
    assert "redirect" in detail
    ready = await deposited(admin_site, "PX-INSIDE")
    inside = {**body, "compartment": "M02"}
    problem(
        await desk.post(f"/v1/admin/parcels/{ready}/reassign", inside), 409, "IllegalTransition"
    )
    assert await actions(admin_site) == [("operator:oscar", "parcel.reassign", "S door jams")]


async def test_dead_letters_listed_and_replayed(admin_site: AdminSite) -> None:
    class Hooks:  # what the deliveries tests' helpers need of their fixture
        class site:  # noqa: N801
            gateway = admin_site.gateway

    await attach(Hooks, "acme-dlq")  # type: ignore[arg-type]
    await dead_connector_row(Hooks, "acme-dlq", "PX-DEAD-1")  # type: ignore[arg-type]
    viewer = await admin_site.desk("vera")
    dead = (await viewer.get("/v1/admin/deliveries", state="dead")).json()["items"]
    assert [(d["carrierId"], d["delivery"]["targetId"], d["delivery"]["state"]) for d in dead] == [
        ("acme", "acme-dlq", "dead")
    ]
    delivery_id = dead[0]["delivery"]["id"]
    path = f"/v1/admin/deliveries/{delivery_id}/replay"
    problem(await viewer.post(path, {"reason": "receiver fixed"}), 403, "Forbidden")
    desk = await admin_site.desk("oscar")
    replayed = await desk.post(path, {"reason": "receiver fixed"})
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["delivery"]["state"] == "pending"
    problem(
        await desk.post("/v1/admin/deliveries/999999/replay", {"reason": "none"}), 404, "NotFound"
    )
    assert await actions(admin_site) == [("operator:oscar", "delivery.replay", "receiver fixed")]


async def test_keypad_lockouts_listed_and_cleared(admin_site: AdminSite) -> None:
    now = admin_site.clock()
    async with admin_site.gateway.store.transaction() as tx:
        for locker_id in ("WAW-CENTRAL-01", "KRK-MAIN-01"):
            counter = await tx.keypads.claim(locker_id)
            await tx.keypads.save(
                replace(counter, lockouts=2, locked_until=now + timedelta(minutes=2))
            )
    viewer = await admin_site.desk("vera")
    items = (await viewer.get("/v1/admin/keypad-lockouts")).json()["items"]
    assert [(i["lockerId"], i["lockouts"]) for i in items] == [
        ("KRK-MAIN-01", 2),
        ("WAW-CENTRAL-01", 2),
    ]
    path = "/v1/admin/keypad-lockouts/WAW-CENTRAL-01/clear"
    problem(await viewer.post(path, {"reason": "recipient verified"}), 403, "Forbidden")
    desk = await admin_site.desk("oscar")
    cleared = await desk.post(path, {"reason": "recipient verified on the phone"})
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["lockerId"] == "WAW-CENTRAL-01"
    problem(await desk.post(path, {"reason": "again"}), 409, "IllegalTransition")
    items = (await viewer.get("/v1/admin/keypad-lockouts")).json()["items"]
    assert [i["lockerId"] for i in items] == ["KRK-MAIN-01"]
    (entry,) = await admin_site.audit(AuditAction.KEYPAD_CLEARED)
    assert (entry.actor, entry.details["reason"]) == (
        "operator:oscar",
        "recipient verified on the phone",
    )
    admin_site.clock.advance(121)
    assert (await viewer.get("/v1/admin/keypad-lockouts")).json()["items"] == []


async def test_audit_head_verification_and_entries(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("oscar")
    await desk.post(f"{LOCKER}/compartments/X01/out-of-service", {"reason": "flooded"})
    head = (await desk.get("/v1/admin/audit/head")).json()
    assert head["position"] >= 2  # sign-in and the action at least
    verified = (await desk.get("/v1/admin/audit/verify", expectHead=head["head"])).json()
    assert verified == {
        "ok": True,
        "checked": verified["checked"],
        "head": verified["head"],
        "problem": None,
    }
    latest = (await desk.get("/v1/admin/audit", action="admin.action")).json()["items"]
    assert latest[-1]["details"]["reason"] == "flooded"
    assert latest[-1]["actor"] == "operator:oscar"
    wrong = f"{head['position']}:{'0' * 64}"
    broken = (await desk.get("/v1/admin/audit/verify", expectHead=wrong)).json()
    assert (broken["ok"], broken["problem"]["breach"]) == (False, "anchor-mismatch")
    problem(
        await desk.get("/v1/admin/audit/verify", expectHead="nonsense"),
        422,
        "PropertyConstraintViolation",
    )
