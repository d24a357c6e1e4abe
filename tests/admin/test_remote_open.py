"""An operator's remote open, end to end: a private Mosquitto, the gateway, the real emulator."""

from __future__ import annotations

import httpx

from gateway.domain.audit import AuditAction
from gateway.domain.operators import Role
from gateway.service.operators import OperatorService
from tests.admin.conftest import PASSWORD, problem
from tests.admin.openapi_check import checker
from tests.e2e.conftest import LOCKER, Site, site

__all__ = ["site"]


async def test_remote_open_with_a_reason_opens_the_real_door(site: Site) -> None:
    service = OperatorService(store=site.gateway.store, clock=site.clock)
    await service.add("oscar", name="Oscar", role=Role.OPERATOR, password=PASSWORD)
    await site.book("PX-OPEN-1")
    async with site.gateway.store.transaction() as tx:
        parcel = await tx.parcels.get("acme", "PX-OPEN-1")
    assert parcel is not None
    assert parcel.compartment_code is not None
    async with httpx.AsyncClient(
        base_url=site.gateway.base_url, timeout=30, event_hooks={"response": [checker()]}
    ) as desk:
        login = await desk.post(
            "/v1/admin/session", json={"operatorId": "oscar", "password": PASSWORD}
        )
        csrf = {"X-CSRF-Token": login.json()["csrfToken"]}
        path = f"/v1/admin/parcels/{parcel.uid}/open"
        problem(await desk.post(path, json={}, headers=csrf), 422, "PropertyConstraintViolation")
        answer = await desk.post(path, json={"reason": "courier's app is down"}, headers=csrf)
        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert (result["outcome"], result["purpose"]) == ("Unlocked", "deposit")
        assert (result["lockerId"], result["compartmentCode"]) == (LOCKER, parcel.compartment_code)
    # The locker itself opened that door.
    assert site.locker.model.compartments[parcel.compartment_code].door == "open"
    async with site.gateway.store.transaction() as tx:
        (intent,) = await tx.audit.latest(5, action=AuditAction.ADMIN_ACTION.value)
        opened = await tx.audit.latest(5, action=AuditAction.DOOR_OPENED.value)
    assert (intent.actor, intent.details["what"], intent.details["reason"]) == (
        "operator:oscar",
        "door.remote_open",
        "courier's app is down",
    )
    # The gateway's record of the unlock names the operator (the locker's own report of the
    # door may come before or after it).
    gateway_side = [e for e in opened if not e.actor.startswith("locker:")]
    assert [e.actor for e in gateway_side] == ["operator:oscar"]
