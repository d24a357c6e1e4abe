"""Holds and bookings at once never promise a compartment twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from tests.http.conftest import Site

KRK = "KRK-MAIN-01"  # two M compartments
ROUNDS = 3
EACH = 8  # holds and bookings per round, all sent at once


async def test_concurrent_holds_and_bookings_share_the_capacity_exactly(site: Site) -> None:
    for round_ in range(ROUNDS):
        holds = [
            site.post("/v1/holds", {"lockerId": KRK, "sizeClass": "M"}, key=uuid.uuid4().hex)
            for _ in range(EACH)
        ]
        bookings = [
            site.post(
                "/v1/parcels",
                {"parcelId": f"RACE-{round_}-{n}", "lockerId": KRK, "sizeClass": "M"},
                key=uuid.uuid4().hex,
                carrier=site.globex,
            )
            for n in range(EACH)
        ]
        answers: list[httpx.Response] = await asyncio.gather(*holds, *bookings)
        statuses = sorted(a.status_code for a in answers)
        # Exactly the two compartments were promised, to holds or bookings; the rest were
        # refused as full (a retried collision is never a 500).
        assert statuses == [201, 201] + [409] * (2 * EACH - 2), [a.text for a in answers]
        won = [a.json() for a in answers[:EACH] if a.status_code == 201]
        # Every hold that was granted gets its compartment.
        for n, hold in enumerate(won):
            body = {
                "parcelId": f"HELD-{round_}-{n}",
                "lockerId": KRK,
                "sizeClass": "M",
                "holdId": hold["holdId"],
            }
            booked = await site.post("/v1/parcels", body, key=uuid.uuid4().hex)
            assert booked.status_code == 201, booked.text
        free = (await site.get(f"/v1/lockers/{KRK}")).json()["availability"]
        assert free == [{"sizeClass": "M", "available": 0, "total": 2}]
        # Empty the locker for the next round: cancel every reservation.
        for carrier in (site.acme, site.globex):
            page = (await site.get("/v1/parcels", carrier=carrier, state="reserved")).json()
            for parcel in page["items"]:
                path = f"/v1/parcels/{parcel['parcelId']}/cancel"
                done = await site.post(path, {}, key=uuid.uuid4().hex, carrier=carrier)
                assert done.status_code == 200, done.text
