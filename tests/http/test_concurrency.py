"""Race-free allocation through the whole stack: 200 bookings for 20 compartments."""

from __future__ import annotations

import asyncio
from collections import Counter

from gateway.domain.compartment import Compartment
from gateway.domain.enums import SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.sizes import STANDARD_SIZES
from tests.http.conftest import Site


async def test_200_concurrent_bookings_for_20_compartments(site: Site) -> None:
    spec = STANDARD_SIZES[SizeClass.M]
    doors = [
        Compartment("RACE-1", f"R{n:02d}", SizeClass.M, spec.inside, spec.max_weight_g)
        for n in range(20)
    ]
    await site.gateway.lockers.provision(Locker("RACE-1", "Race", Location(52.0, 21.0)), doors)

    async def book(n: int) -> tuple[int, str]:
        body = {"parcelId": f"RACE-{n:03d}", "lockerId": "RACE-1", "sizeClass": "M"}
        response = await site.post("/v1/parcels", body, key=f"race-key-{n:04d}")
        code = response.json().get("compartmentCode") or response.json().get("code")
        return response.status_code, str(code)

    results = await asyncio.gather(*(book(n) for n in range(200)))
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 20, 409: 180}, statuses
    held = [code for status, code in results if status == 201]
    assert sorted(held) == sorted(d.code for d in doors)  # each compartment exactly once
    assert {code for status, code in results if status == 409} == {"NoCompartmentAvailable"}

    detail = (await site.get("/v1/lockers/RACE-1")).json()
    assert detail["availability"] == [{"sizeClass": "M", "available": 0, "total": 20}]
