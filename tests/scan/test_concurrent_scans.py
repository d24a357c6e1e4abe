"""Query on scan at the service, without hardware: two lockers scanning the same unknown label
at the same moment book it once; the other scan is answered, not failed."""

from __future__ import annotations

import asyncio

from gateway.domain.enums import SizeClass
from gateway.domain.scan import ScanPolicy, ScanQuery, ScanRules
from tests.http.conftest import Site, site  # noqa: F401 - the fixture

WAW, KRK = "WAW-CENTRAL-01", "KRK-MAIN-01"


async def open_round(site: Site, locker_id: str) -> None:  # noqa: F811
    response = await site.post("/v1/courier-sessions", {"lockerId": locker_id})
    assert response.status_code == 201, response.text


async def test_one_label_scanned_at_two_lockers_at_once_is_booked_once(
    site: Site,  # noqa: F811
) -> None:
    scans = site.gateway.locker_side.scans
    scans.rules = ScanRules(ScanPolicy.HOLD)
    await open_round(site, WAW)
    await open_round(site, KRK)
    for n in range(2):  # twice (KRK has two M doors): the collision is a race
        parcel_id = f"TWICE-{n}"
        answers = await asyncio.gather(
            scans.answer(ScanQuery(WAW, parcel_id, SizeClass.M)),
            scans.answer(ScanQuery(KRK, parcel_id, SizeClass.M)),
        )
        outcomes = sorted((str(a.decision), str(a.reason)) for a in answers)
        assert outcomes == [("Accepted", "None"), ("Refused", "OtherLocker")], outcomes
        parcel = (await site.get(f"/v1/parcels/{parcel_id}")).json()
        accepted = next(a for a in answers if a.compartment_code is not None)
        assert parcel["compartmentCode"] == accepted.compartment_code
    await scans.settle()  # the doors' opens fail: no locker is connected
