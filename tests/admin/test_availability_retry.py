"""A SetAvailability the locker did not answer is tried again with back-off, not left until
the locker happens to boot again; end to end with the real emulator and a private Mosquitto.

Until then the locker, up and connected all along, kept accepting offline grants into a
compartment the gateway had taken out of service.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.admin.test_availability_at_locker import enabled_at_locker, operator_desk, set_service
from tests.e2e.conftest import Site, site

__all__ = ["site"]

# Longer than the gateway waits for the locker's answer (AvailabilitySync: 5 s): the command
# reaches the locker, which acts after its `exp` and so drops it unperformed.
SLOWER_THAN_THE_PUSH_TIMEOUT_S = 6.5


async def test_an_unanswered_push_is_retried_without_a_boot(site: Site) -> None:
    parcel = await site.book("OOS-RETRY-1")
    door = str(parcel["compartmentCode"])
    boots = site.locker.model.counters.boots_accepted
    connects = site.locker.model.counters.connects
    async with operator_desk(site) as desk:
        site.locker.update_faults({"slow_replies": SLOWER_THAN_THE_PUSH_TIMEOUT_S})
        await set_service(desk, door, available=False)  # answered; the push timed out
        assert enabled_at_locker(site, door)
        site.locker.update_faults({"slow_replies": 0.0})  # the locker answers again
        await asyncio.wait_for(
            site.locker.wait_until(lambda: not enabled_at_locker(site, door)), 15
        )
    # Told by the retry, on the same connection: no reconnect, no Boot in between.
    assert site.locker.model.counters.boots_accepted == boots
    assert site.locker.model.counters.connects == connects
    assert site.gateway.availability.retried >= 1


def availability_commands(site: Site, after: int) -> list[dict[str, Any]]:
    """The SetAvailability payloads the locker received after log entry number `after`."""
    return [
        entry["envelope"]["payload"]
        for entry in site.locker.log_entries()[after:]
        if entry["direction"] == "received"
        and "note" not in entry
        and entry.get("envelope", {}).get("action") == "SetAvailability"
    ]


async def test_a_retry_pushes_the_state_the_gateway_holds_now(site: Site) -> None:
    parcel = await site.book("OOS-RETRY-2")
    door = str(parcel["compartmentCode"])
    async with operator_desk(site) as desk:
        site.locker.update_faults({"slow_replies": SLOWER_THAN_THE_PUSH_TIMEOUT_S})
        await set_service(desk, door, available=False)  # not told...
        await set_service(desk, door, available=True)  # ...and changed back, not told either
        retried = site.gateway.availability.retried
        recovered_at = len(site.locker.log_entries())
        site.locker.update_faults({"slow_replies": 0.0})

        async def retried_once() -> None:
            while site.gateway.availability.retried == retried:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(retried_once(), 15)
        # The retry tells what the gateway holds now, never the stale "out of service".
        await asyncio.wait_for(
            site.locker.wait_until(lambda: bool(availability_commands(site, recovered_at))), 10
        )
    told = availability_commands(site, recovered_at)
    assert told, "nothing was pushed after the locker recovered"
    assert all(one == {"compartmentCode": door, "available": True} for one in told), told
    assert enabled_at_locker(site, door)
