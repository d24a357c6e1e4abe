"""Admin actions take an optional Idempotency-Key: a retried remote open opens the door once
(the real emulator counts its unlocks), a retried action is answered the first answer, and
the key used for another request is a 409, as on the carrier API."""

from __future__ import annotations

from gateway.domain.audit import AuditAction
from tests.admin.conftest import AdminSite, problem
from tests.admin.test_availability_at_locker import operator_desk
from tests.e2e.conftest import Site, site

__all__ = ["site"]


async def test_a_retried_remote_open_with_its_key_opens_the_door_once(site: Site) -> None:
    await site.book("PX-IDEM-1")
    async with site.gateway.store.transaction() as tx:
        parcel = await tx.parcels.get("acme", "PX-IDEM-1")
    assert parcel is not None
    assert parcel.compartment_code is not None
    code = parcel.compartment_code
    async with operator_desk(site) as desk:  # oscar, logged in; his CSRF token on every call
        headers = {"Idempotency-Key": "open-px-1-0001"}
        path = f"/v1/admin/parcels/{parcel.uid}/open"
        body = {"reason": "courier's app is down"}
        first = await desk.post(path, json=body, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json()["outcome"] == "Unlocked"
        again = await desk.post(path, json=body, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json() == first.json()
        other = await desk.post(path, json={"reason": "another reason"}, headers=headers)
        problem(other, 409, "IdempotencyConflict")
    assert site.locker.model.unlocks.get(code) == 1
    async with site.gateway.store.transaction() as tx:
        intents = await tx.audit.latest(10, action=AuditAction.ADMIN_ACTION.value)
    assert [e.details["what"] for e in intents] == ["door.remote_open"]


async def test_a_retried_out_of_service_is_answered_the_first_answer(
    admin_site: AdminSite,
) -> None:
    desk = await admin_site.desk("oscar")
    desk.client.headers["Idempotency-Key"] = "oos-waw-m01-001"
    path = "/v1/admin/lockers/WAW-CENTRAL-01/compartments/M01/out-of-service"
    first = await desk.post(path, {"reason": "door sticks"})
    assert first.status_code == 200, first.text
    assert first.json()["state"] == "out_of_service"
    # Without the key this retry would be refused (out of service already); with it, the
    # first answer comes back and nothing is done or audited twice.
    again = await desk.post(path, {"reason": "door sticks"})
    assert (again.status_code, again.json()) == (200, first.json())
    problem(await desk.post(path, {"reason": "other"}), 409, "IdempotencyConflict")
    # Keys are each operator's own: alice's same key is a request of her own.
    alice = await admin_site.desk("alice")
    alice.client.headers["Idempotency-Key"] = "oos-waw-m01-001"
    back = await alice.post(path.replace("out-of-service", "in-service"), {"reason": "fixed"})
    assert back.status_code == 200, back.text
    async with admin_site.gateway.store.transaction() as tx:
        entries = await tx.audit.latest(10, action=AuditAction.ADMIN_ACTION.value)
    assert sorted(e.details["what"] for e in entries) == [
        "compartment.in_service",
        "compartment.out_of_service",
    ]
