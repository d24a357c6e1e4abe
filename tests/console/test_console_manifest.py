"""The console's collection manifest is the carriers' one (GET /v1/collection-manifest), for
every carrier: overdue and expired parcels, and first-mile drop-offs waiting for a courier."""

from __future__ import annotations

import asyncio
import re

from tests.console.conftest import ConsoleSite, eventually
from tests.console.test_console_http import signed_in

LOCKER = "WAW-CENTRAL-01"
ROW = re.compile(
    r'<th scope="row" data-label="Compartment">([^<]+)</th>'
    r'<td data-label="Parcel">([^<]+)</td>.*?<td data-label="Why">([^<]+)</td>'
)


async def test_the_manifest_lists_overdue_parcels_and_first_mile_drop_offs(
    console_site: ConsoleSite,
) -> None:
    site = console_site
    late = await site.deposit("MANIFEST-LATE")
    booked = await site.post(
        "/v1/parcels",
        {
            "parcelId": "MANIFEST-DROP",
            "lockerId": LOCKER,
            "sizeClass": "S",
            "direction": "first_mile",
        },
        "book-manifest-drop",
    )
    assert booked.status_code == 201, booked.text
    drop = booked.json()["compartmentCode"]
    code = await site.post("/v1/parcels/MANIFEST-DROP/codes", {}, "code-manifest-drop")
    site.locker.enter_code(code.json()["code"])
    async with asyncio.timeout(10):
        await site.locker.wait_until(lambda: site.locker.compartment(drop).door == "open")
    site.locker.deposit(drop)  # the sender drops it off
    await eventually(lambda: site.parcel_state("MANIFEST-DROP"), "dropped_off", 10)
    site.clock.advance(73 * 3600)  # past the 72 h pickup window: the other one is overdue

    client, _ = await signed_in(site, "oscar")
    try:
        page = await client.get("/console/manifest")
        assert page.status_code == 200, page.text
        rows = ROW.findall(page.text)
        assert sorted(rows) == sorted(
            [(late, "MANIFEST-LATE", "overdue"), (drop, "MANIFEST-DROP", "dropped_off")]
        )
        other = await client.get("/console/manifest", params={"locker": "KRK-MAIN-01"})
        assert ROW.findall(other.text) == []
        assert 'id="manifest-empty"' in other.text
    finally:
        await client.aclose()
