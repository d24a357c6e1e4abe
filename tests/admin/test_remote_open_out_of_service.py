"""A carrier's remote open, or a grant issued to it, cannot put a parcel into a compartment
held out of service: the keypad's rule for a drop-off code (review findings; the emulator's
Unlock, like a board's, opens whatever the gateway asks, and a locker whose SetAvailability
went unanswered would accept a grant)."""

from __future__ import annotations

import asyncio

from tests.admin.test_availability_at_locker import operator_desk, set_service
from tests.e2e.conftest import Site, site
from tests.e2e.test_offline_grants import issue, keyed

__all__ = ["site"]


async def test_a_carriers_remote_open_into_a_compartment_out_of_service_opens_nothing(
    site: Site,
) -> None:
    parcel = await site.book("OOS-OPEN-1")
    door = str(parcel["compartmentCode"])
    async with operator_desk(site) as desk:
        await set_service(desk, door, available=False)
        refused = await site.post("/v1/parcels/OOS-OPEN-1/open", key="oos-open-0001")
        assert refused.status_code == 409, refused.text
        assert "out of service" in refused.json()["detail"], refused.text
        assert site.locker.model.unlocks.get(door, 0) == 0
        assert site.locker.compartment(door).door.value == "closed"
        # Back in service, a new request opens it (the refusal claimed no key for good).
        await set_service(desk, door, available=True)
        opened = await site.post("/v1/parcels/OOS-OPEN-1/open", key="oos-open-0001")
        assert opened.status_code == 200, opened.text
        await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    assert site.locker.model.unlocks[door] == 1


async def test_no_deposit_grant_is_issued_for_a_compartment_out_of_service(site: Site) -> None:
    await keyed(site)
    parcel = await site.book("OOS-GRANT-2")
    door = str(parcel["compartmentCode"])
    async with operator_desk(site) as desk:
        await set_service(desk, door, available=False)
        refused = await site.post("/v1/parcels/OOS-GRANT-2/grants")
        assert refused.status_code == 409, refused.text
        assert "out of service" in refused.json()["detail"], refused.text
        await set_service(desk, door, available=True)
    grant = await issue(site, "OOS-GRANT-2")
    assert grant["action"] == "deposit"
