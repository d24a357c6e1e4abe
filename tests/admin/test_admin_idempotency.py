"""Admin actions take an optional Idempotency-Key: a retried remote open opens the door once
(the real emulator counts its unlocks), a retried action is answered the first answer, and
the key used for another request is a 409, as on the carrier API."""

from __future__ import annotations

import httpx

from gateway.domain.audit import AuditAction
from gateway.domain.operators import Role
from gateway.service.operators import OperatorService
from tests.admin.conftest import PASSWORD, AdminSite, problem
from tests.admin.openapi_check import checker
from tests.e2e.conftest import Site, site

__all__ = ["site"]


async def test_a_retried_remote_open_with_its_key_opens_the_door_once(site: Site) -> None:
    service = OperatorService(store=site.gateway.store, clock=site.clock)
    await service.add("oscar", name="Oscar", role=Role.OPERATOR, password=PASSWORD)
    await site.book("PX-IDEM-1")
    async with site.gateway.store.transaction() as tx:
        parcel = await tx.parcels.get("acme", "PX-IDEM-1")
    assert parcel is not None
    assert parcel.compartment_code is not None
    code = parcel.compartment_code
    async with httpx.AsyncClient(
        base_url=site.gateway.base_url, timeout=30, event_hooks={"response": [checker()]}
    ) as desk:
        login = await desk.post(
            "/v1/admin/session", json={"operatorId": "oscar", "password": PASSWORD}
        )
        headers = {"X-CSRF-Token": login.json()["csrfToken"], "Idempotency-Key": "open-px-1-0001"}
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
