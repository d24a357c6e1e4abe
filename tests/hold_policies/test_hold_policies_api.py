"""Hold-time policies through the admin API, applied to parcels booked through the carrier API
(a real gateway over SQLite and PostgreSQL; every admin answer checked against openapi.yaml)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from gateway.domain.audit import AuditAction
from gateway.domain.enums import ParcelAction
from tests.admin.conftest import AdminSite, admin_site, problem
from tests.http.conftest import NETWORK

__all__ = ["admin_site"]  # the fixture, used by name

DAY = 86400
HOUR = 3600


async def book(site: AdminSite, parcel_id: str, **extra: Any) -> dict[str, Any]:
    body = {"parcelId": parcel_id, "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"} | extra
    async with httpx.AsyncClient(base_url=site.gateway.base_url) as client:
        headers = site.acme.auth() | {"Idempotency-Key": f"book-{parcel_id}"}
        answer = await client.post("/v1/parcels", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        site.gateway.spec.validate("parcel", answer.json())
        read = await client.get(f"/v1/parcels/{parcel_id}", headers=site.acme.auth())
    record: dict[str, Any] = read.json()
    assert record == answer.json()  # the booking's answer is the parcel's record
    return record


async def test_each_value_comes_from_the_most_specific_policy(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("oscar")
    for path, body in [
        (f"network/{NETWORK}", {"holdDays": 5, "extensionDays": 1}),
        ("carrier/acme", {"reminderHours": [6, 48], "extensionDays": 3, "reason": "contract"}),
        ("locker/WAW-CENTRAL-01", {"holdDays": 2}),
    ]:
        answer = await desk.client.put(
            f"/v1/admin/hold-policies/{path}", json=body, headers={"X-CSRF-Token": desk.csrf or ""}
        )
        assert answer.status_code == 200, answer.text
        admin_site.gateway.spec.validate("hold-policy", answer.json())

    here = await book(admin_site, "POL-1")
    assert here["holdPolicy"] == {
        "pickupWindowSeconds": 2 * DAY,
        "remindersSecondsBefore": [48 * HOUR, 6 * HOUR],
        "extensionDays": 3,
        "sources": {"pickupWindow": "locker", "reminders": "carrier", "extension": "carrier"},
        "nextReminderAt": None,
    }
    assert here["recipientRequests"] == {
        "extendedAt": None,
        "codesIssued": 0,
        "redirectLockerId": None,
        "redirectRequestedAt": None,
    }
    there = await book(admin_site, "POL-2", lockerId="KRK-MAIN-01")
    assert there["holdPolicy"]["pickupWindowSeconds"] == 5 * DAY
    assert there["holdPolicy"]["sources"]["pickupWindow"] == "network"
    chosen = await book(admin_site, "POL-3", pickupWindowSeconds=7200)
    assert chosen["holdPolicy"]["pickupWindowSeconds"] == 7200
    assert chosen["holdPolicy"]["sources"]["pickupWindow"] == "request"

    # Deposited: the window is the policy's, and the 48 h reminder of a 2-day window would
    # fall at the deposit itself, so the first reminder due is the 6 h one.
    await admin_site.gateway.parcels.apply_action(
        await admin_site.uid("POL-1"), ParcelAction.DEPOSIT
    )
    parcel = await admin_site.gateway.parcels.get("acme", "POL-1")
    assert parcel.pickup_until is not None
    assert parcel.pickup_until - parcel.updated_at == timedelta(days=2)  # set at the deposit
    assert parcel.next_reminder_at == parcel.pickup_until - timedelta(hours=6)

    # A policy changed later leaves parcels already booked as they were.
    await desk.client.put(
        "/v1/admin/hold-policies/locker/WAW-CENTRAL-01",
        json={"holdDays": 9},
        headers={"X-CSRF-Token": desk.csrf or ""},
    )
    after = await admin_site.gateway.parcels.get("acme", "POL-1")
    assert after.hold == parcel.hold
    assert (await book(admin_site, "POL-4"))["holdPolicy"]["pickupWindowSeconds"] == 9 * DAY

    entries = await admin_site.audit(AuditAction.ADMIN_ACTION)
    changes = [
        (e.subject, e.details.get("holdDays")) for e in entries if e.actor == "operator:oscar"
    ]
    assert ("locker:WAW-CENTRAL-01", 9) in changes
    assert ("carrier:acme", None) in changes
    assert {e.details["what"] for e in entries} == {"hold_policy.set"}


async def test_policies_are_listed_read_and_removed(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("oscar")
    csrf = {"X-CSRF-Token": desk.csrf or ""}
    await desk.client.put(
        "/v1/admin/hold-policies/carrier/acme", json={"holdDays": 4}, headers=csrf
    )
    await desk.client.put(
        "/v1/admin/hold-policies/locker/KRK-MAIN-01", json={"reminderHours": []}, headers=csrf
    )
    listed = (await desk.get("/v1/admin/hold-policies")).json()["items"]
    assert [(p["scope"], p["scopeId"]) for p in listed] == [
        ("carrier", "acme"),
        ("locker", "KRK-MAIN-01"),
    ]
    lockers = (await desk.get("/v1/admin/hold-policies", scope="locker")).json()["items"]
    assert lockers[0]["reminderHours"] == []
    assert lockers[0]["holdDays"] is None
    one = (await desk.get("/v1/admin/hold-policies/carrier/acme")).json()
    assert (one["holdDays"], one["updatedBy"]) == (4, "operator:oscar")

    gone = await desk.client.delete("/v1/admin/hold-policies/carrier/acme", headers=csrf)
    assert gone.status_code == 204
    problem(await desk.get("/v1/admin/hold-policies/carrier/acme"), 404, "NotFound")
    again = await desk.client.delete("/v1/admin/hold-policies/carrier/acme", headers=csrf)
    problem(again, 404, "NotFound")
    # An empty reminder list is a policy too: no reminders at that locker.
    assert (await book(admin_site, "POL-KRK", lockerId="KRK-MAIN-01"))["holdPolicy"][
        "remindersSecondsBefore"
    ] == []


async def test_bad_policies_get_specific_problems(admin_site: AdminSite) -> None:
    desk = await admin_site.desk("oscar")
    csrf = {"X-CSRF-Token": desk.csrf or ""}

    async def put(path: str, body: Any) -> httpx.Response:
        return await desk.client.put(f"/v1/admin/hold-policies/{path}", json=body, headers=csrf)

    problem(await put("carrier/nobody", {"holdDays": 3}), 404, "NotFound")
    problem(await put("locker/NOWHERE-1", {"holdDays": 3}), 404, "NotFound")
    problem(await put("network/another-net", {"holdDays": 3}), 404, "NotFound")
    bad = problem(await put("carrier/acme", {"holdDays": 45}), 422, "PropertyConstraintViolation")
    assert bad["errors"][0]["pointer"] == "/holdDays"
    twice = problem(
        await put("carrier/acme", {"reminderHours": [24, 24]}), 422, "PropertyConstraintViolation"
    )
    assert twice["errors"][0]["pointer"] == "/reminderHours"
    problem(await put("carrier/acme", {}), 422, "PropertyConstraintViolation")
    problem(
        await put("carrier/acme", {"reason": "only a reason"}), 422, "PropertyConstraintViolation"
    )
    problem(await put("region/north", {"holdDays": 3}), 422, "PropertyConstraintViolation")
    problem(
        await desk.get("/v1/admin/hold-policies", scope="region"),
        422,
        "PropertyConstraintViolation",
    )
    typed = await desk.client.put(
        "/v1/admin/hold-policies/carrier/acme", content=b"holdDays=3", headers=csrf
    )
    assert typed.status_code in (400, 415), typed.text

    viewer = await admin_site.desk("vera")
    problem(
        await viewer.client.put(
            "/v1/admin/hold-policies/carrier/acme",
            json={"holdDays": 3},
            headers={"X-CSRF-Token": viewer.csrf or ""},
        ),
        403,
        "Forbidden",
    )
    assert (await viewer.get("/v1/admin/hold-policies")).status_code == 200
    nobody = await admin_site.desk()
    problem(await nobody.get("/v1/admin/hold-policies"), 401, "SecurityError")
