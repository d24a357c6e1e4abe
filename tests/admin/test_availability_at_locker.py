"""Out of service reaches the locker (OLP SetAvailability), end to end with a private
Mosquitto, the gateway and the real emulator: a right drop-off code and an offline grant
into that compartment open nothing, and a change made while the locker was offline reaches
it at its next Boot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from gateway.domain.operators import Role
from gateway.service.operators import OperatorService
from tests.admin.conftest import PASSWORD
from tests.admin.openapi_check import checker
from tests.e2e.conftest import LOCKER, Site, eventually, site
from tests.e2e.test_keypad_limits import refused
from tests.e2e.test_offline_grants import issue, keyed

__all__ = ["site"]


@asynccontextmanager
async def operator_desk(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    service = OperatorService(store=site.gateway.store, clock=site.clock)
    await service.add("oscar", name="Oscar", role=Role.OPERATOR, password=PASSWORD)
    async with httpx.AsyncClient(
        base_url=site.gateway.base_url, timeout=30, event_hooks={"response": [checker()]}
    ) as desk:
        login = await desk.post(
            "/v1/admin/session", json={"operatorId": "oscar", "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        desk.headers["X-CSRF-Token"] = login.json()["csrfToken"]
        yield desk


async def set_service(desk: httpx.AsyncClient, code: str, *, available: bool) -> None:
    what = "in-service" if available else "out-of-service"
    path = f"/v1/admin/lockers/{LOCKER}/compartments/{code}/{what}"
    answer = await desk.post(path, json={"reason": "door checked by the technician"})
    assert answer.status_code == 200, answer.text


def enabled_at_locker(site: Site, code: str) -> bool:
    return site.locker.compartment(code).enabled


async def test_a_drop_off_code_for_a_compartment_out_of_service_opens_nothing(
    site: Site,
) -> None:
    parcel = await site.book("OOS-CODE-1")
    door = str(parcel["compartmentCode"])
    code = await site.code("OOS-CODE-1")
    async with operator_desk(site) as desk:
        await set_service(desk, door, available=False)
        # Confirmed by the locker before the answer came back.
        assert not enabled_at_locker(site, door)
        verdict, shown = await refused(site, code)
        assert (verdict["result"], shown) == ("out-of-service", "CodeRejected")
        assert site.locker.model.unlocks.get(door, 0) == 0
        assert site.locker.compartment(door).door.value == "closed"
        # Back in service: the locker is told, and the same code (not used up) opens it.
        await set_service(desk, door, available=True)
        assert enabled_at_locker(site, door)
        site.locker.enter_code(code)
        await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    assert site.locker.model.unlocks[door] == 1


async def test_the_locker_refuses_an_offline_grant_into_a_compartment_out_of_service(
    site: Site,
) -> None:
    await keyed(site)
    parcel = await site.book("OOS-GRANT-1")
    door = str(parcel["compartmentCode"])
    grant = await issue(site, "OOS-GRANT-1")
    assert grant["action"] == "deposit"
    async with operator_desk(site) as desk:
        await set_service(desk, door, available=False)
    verdict = site.locker.present_grant(grant["qr"])
    assert not verdict.accepted, verdict
    assert "out of service" in verdict.message, verdict
    assert site.locker.compartment(door).door.value == "closed"


async def locker_online(site: Site) -> bool | None:
    async with site.gateway.store.transaction() as tx:
        session = await tx.sessions.get(LOCKER)
    return None if session is None else session.online


async def test_out_of_service_set_while_the_locker_was_offline_reaches_it_at_boot(
    site: Site,
) -> None:
    parcel = await site.book("OOS-BOOT-1")
    door = str(parcel["compartmentCode"])
    async with operator_desk(site) as desk:
        site.locker.go_offline(4.0)
        await eventually(lambda: locker_online(site), False, 10)
        await set_service(desk, door, available=False)  # the locker cannot be told now
        assert enabled_at_locker(site, door)
        await asyncio.wait_for(site.locker.wait_booted(), 20)
        # The accepted Boot brings the locker in line.
        await asyncio.wait_for(
            site.locker.wait_until(lambda: not enabled_at_locker(site, door)), 10
        )
