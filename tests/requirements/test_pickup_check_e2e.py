"""An age/identity check at pickup reaches the locker's screen: through OpenCompartment when
the gateway opens the door (remote open, keypad code), through the grant when the locker
verifies it offline."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.requirements.conftest import Cold, wait_state


async def deposited(site: Cold, parcel_id: str, **extra: Any) -> str:
    booked = await site.book(parcel_id, **extra)
    assert booked.status_code == 201, booked.text
    door: str = booked.json()["compartmentCode"]
    opened = await site.post(f"/v1/parcels/{parcel_id}/open", {})
    assert opened.json()["outcome"] == "Unlocked", opened.text
    site.locker.deposit(door)
    await wait_state(site, parcel_id, "ready_for_pickup")
    return door


def sent_opens(site: Cold) -> list[dict[str, Any]]:
    return [
        e["envelope"]["payload"]
        for e in site.locker.log_entries()
        if e["direction"] == "received" and e.get("envelope", {}).get("action") == "OpenCompartment"
    ]


async def test_a_remote_pickup_shows_the_check_on_the_screen(cold_site: Cold) -> None:
    site = cold_site
    door = await deposited(site, "WINE-1", requirements={"pickupCheck": {"minimumAge": 18}})
    # The deposit's unlock carried no check: it is the recipient who must show one.
    assert "pickupCheck" not in sent_opens(site)[-1]

    opened = await site.post("/v1/parcels/WINE-1/open", {})
    assert opened.json()["outcome"] == "Unlocked", opened.text
    assert sent_opens(site)[-1] == {
        "compartmentCode": door,
        "purpose": "pickup",
        "pickupCheck": {"minimumAge": 18},
    }
    display = site.locker.display
    assert display is not None
    assert display["pickupCheck"] == {"minimumAge": 18}
    assert "proof of age 18+" in display["text"]
    site.locker.take(door)
    await wait_state(site, "WINE-1", "picked_up")

    # A parcel without a check opens as before: nothing about a check on the screen.
    plain = await deposited(site, "BREAD-1")
    opened = await site.post("/v1/parcels/BREAD-1/open", {})
    assert opened.json()["outcome"] == "Unlocked", opened.text
    assert sent_opens(site)[-1] == {"compartmentCode": plain, "purpose": "pickup"}
    assert "pickupCheck" not in (site.locker.display or {})


async def test_an_offline_grant_carries_the_check_to_the_screen(cold_site: Cold) -> None:
    site = cold_site
    door = await deposited(
        site, "PILLS-1", requirements={"pickupCheck": {"identity": True, "minimumAge": 21}}
    )
    async with asyncio.timeout(10):  # the gateway pushes its key set after the Boot
        await site.locker.wait_until(lambda: site.locker.key_set_version is not None)
    grant = await site.post("/v1/parcels/PILLS-1/grants", {})
    assert grant.status_code == 201, grant.text
    verdict = site.locker.present_grant(grant.json()["qr"])
    assert verdict.accepted, verdict
    assert verdict.opened, verdict
    display = site.locker.display
    assert display is not None
    assert display["pickupCheck"] == {"identity": True, "minimumAge": 21}
    assert display["text"].startswith("ID check: show proof of age 21+ and identity")
    site.locker.take(door)
    await wait_state(site, "PILLS-1", "picked_up")
