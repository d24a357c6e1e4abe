"""The answer of out-of-service / in-service says what the locker made of the change
(`atLocker`), end to end with the real emulator and a private Mosquitto: confirmed, or
pending (not confirmed in time, tried again with back-off); a replay answers the same."""

from __future__ import annotations

import asyncio

import httpx

from tests.admin.test_availability_at_locker import enabled_at_locker, operator_desk
from tests.admin.test_availability_retry import SLOWER_THAN_THE_PUSH_TIMEOUT_S
from tests.e2e.conftest import LOCKER, Site, site

__all__ = ["site"]


async def set_service(
    desk: httpx.AsyncClient, code: str, *, available: bool, key: str | None = None
) -> dict[str, object]:
    what = "in-service" if available else "out-of-service"
    answer = await desk.post(
        f"/v1/admin/lockers/{LOCKER}/compartments/{code}/{what}",
        json={"reason": "door checked by the technician"},
        headers={"Idempotency-Key": key} if key else {},
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


async def test_the_answer_says_the_locker_confirmed(site: Site) -> None:
    door = str((await site.book("OOS-ANSWER-1"))["compartmentCode"])
    async with operator_desk(site) as desk:
        taken = await set_service(desk, door, available=False, key="oos-answer-1")
        assert (taken["state"], taken["atLocker"]) == ("out_of_service", "confirmed")
        assert not enabled_at_locker(site, door)
        # A retry with the key answers the first answer, what the locker made of it included.
        again = await set_service(desk, door, available=False, key="oos-answer-1")
        assert again == taken
        back = await set_service(desk, door, available=True)
        assert back["state"] != "out_of_service"
        assert back["atLocker"] == "confirmed"
        assert enabled_at_locker(site, door)


async def test_the_answer_says_the_locker_did_not_confirm_yet(site: Site) -> None:
    door = str((await site.book("OOS-ANSWER-2"))["compartmentCode"])
    async with operator_desk(site) as desk:
        site.locker.update_faults({"slow_replies": SLOWER_THAN_THE_PUSH_TIMEOUT_S})
        taken = await set_service(desk, door, available=False)
        assert (taken["state"], taken["atLocker"]) == ("out_of_service", "pending")
        assert enabled_at_locker(site, door)
        site.locker.update_faults({"slow_replies": 0.0})
        # What `pending` promises: tried again, without waiting for the locker's next Boot.
        await asyncio.wait_for(
            site.locker.wait_until(lambda: not enabled_at_locker(site, door)), 15
        )
