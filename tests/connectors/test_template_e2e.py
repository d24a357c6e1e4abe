"""End to end: a parcel's events reach a fake carrier in the carrier's own vocabulary."""

from __future__ import annotations

from pathlib import Path

from gateway.service.connectors import NewAttachment
from tests.webhooks.conftest import FakeCarrier, running

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "connectors" / "inpost-shipx-like.toml"


async def test_the_inpost_like_example_reaches_the_carrier(database_url: str) -> None:
    async with FakeCarrier() as receiver, running(database_url, receiver) as hooks:
        await hooks.site.gateway.connectors.add(
            NewAttachment(
                id="acme-shipx",
                carrier_id="acme",
                connector="template",
                config={
                    "mapping_file": str(EXAMPLE),
                    "url": receiver.url("/shipments/{{ parcel.parcelId }}/events"),
                },
            )
        )
        await hooks.book("CX-9001")  # announced (mapped), reserved (skipped by the example)
        await hooks.cancel("CX-9001")  # cancelled (mapped)
        await receiver.wait_for(2)
        got = receiver.delivered()
        assert [r.path for r in got] == ["/shipments/CX-9001/events"] * 2
        assert [r.json()["payload"]["status"] for r in got] == ["confirmed", "canceled"]
        assert all(r.headers["content-type"] == "application/json" for r in got)
        assert got[0].headers["x-event-id"] == got[0].json()["payload"]["event_id"]
        assert got[0].json()["payload"]["target_point"] == "WAW-CENTRAL-01"
