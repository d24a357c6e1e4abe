"""/metrics, parsed by prometheus_client's parser, against what the system really holds."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt
from sqlalchemy import func, select

from adapters.olp.adapter import OlpAdapter
from gateway.domain.enums import CompartmentState, ParcelState
from gateway.domain.parcel import TERMINAL_STATES
from gateway.store.tables import compartments, outbox, parcels
from tests.observability.conftest import LOCKER, Scraped, TelemetrySite, eventually

HISTOGRAM_COUNT = "openlocker_http_request_duration_seconds_count"


async def db_counts(site: TelemetrySite, table: Any) -> dict[str, int]:
    async with site.gateway.store.engine.connect() as conn:
        rows = await conn.execute(select(table.c.state, func.count()).group_by(table.c.state))
        return {str(state): int(n) for state, n in rows.all()}


async def deposit(site: TelemetrySite, parcel_id: str) -> None:
    door = (await site.book(parcel_id))["compartmentCode"]
    site.locker.enter_code(await site.code(parcel_id))
    await asyncio.wait_for(site.locker.wait_door(door, "open"), 10)
    site.locker.deposit(door)
    await site.wait_state(parcel_id, "ready_for_pickup")


async def test_gauges_match_the_database(telemetry_site: TelemetrySite) -> None:
    site = telemetry_site
    assert site.receiver is not None
    site.receiver.on("/down").always_fail = True  # its deliveries stay pending
    subscribed = await site.post(
        "/v1/webhooks", {"url": site.receiver.url("/down")}, key="subscribe-1"
    )
    assert subscribed.status_code == 201, subscribed.text
    await deposit(site, "OBS-1")
    await site.book("OBS-2", "M")
    cancelled = await site.book("OBS-3", "L")
    response = await site.post("/v1/parcels/OBS-3/cancel", {}, key="cancel-obs-3")
    assert response.status_code == 200, (cancelled, response.text)
    await site.receiver.wait_for_attempts(1)

    scraped = await site.scrape()
    parcels_now = await db_counts(site, parcels)
    compartments_now = await db_counts(site, compartments)
    pending = (await db_counts(site, outbox)).get("pending", 0)

    # Live states only: a terminal state is history, never counted on a scrape.
    assert scraped.by("openlocker_parcels", "state") == {
        state.value: float(parcels_now.get(state.value, 0))
        for state in ParcelState
        if state not in TERMINAL_STATES
    }
    assert parcels_now == {"ready_for_pickup": 1, "reserved": 1, "cancelled": 1}
    assert "cancelled" not in scraped.by("openlocker_parcels", "state")
    assert scraped.by("openlocker_compartments", "state") == {
        state.value: float(compartments_now.get(state.value, 0)) for state in CompartmentState
    }
    assert compartments_now["occupied"] == 1
    assert compartments_now["reserved"] == 1
    assert scraped.value("openlocker_lockers") == 1
    assert scraped.value("openlocker_lockers_online") == 1
    assert pending >= 3  # reserved x3, ready_for_pickup, cancelled: none answered 2xx
    assert scraped.by("openlocker_outbox_deliveries", "state") == {"pending": pending, "dead": 0}
    assert scraped.value("openlocker_outbox_oldest_pending_age_seconds") > 0
    assert scraped.value("openlocker_database_figures_up") == 1
    # Counters of this instance: the failed attempts, the events its pipeline applied.
    assert (
        scraped.value("openlocker_delivery_attempts_total", target_kind="webhook", result="retry")
        >= 1
    )
    assert scraped.value("openlocker_locker_events_total", outcome="applied") >= 2
    assert scraped.value("openlocker_lane_refusals_total", adapter="olp") == 0
    assert scraped.value("openlocker_keypad_entries_total", verdict="accepted") == 1
    for kind, action in (("call", "Boot"), ("event", "DoorOpened"), ("event", "DoorClosed")):
        count = "openlocker_mqtt_message_duration_seconds_count"
        assert scraped.value(count, kind=kind, action=action) >= 1, (kind, action)
    # The lag monitor samples every 0.5 s: a quick run may scrape before its first sample.
    async def sampled() -> bool:
        return (await site.scrape()).value("openlocker_event_loop_lag_seconds_count") >= 1

    await eventually(sampled, True)


async def test_a_wrong_code_counts_as_a_keypad_failure(telemetry_site: TelemetrySite) -> None:
    site = telemetry_site
    await site.book("OBS-K")
    site.locker.enter_code("99999999")

    async def rejected() -> float:
        return (await site.scrape()).value("openlocker_keypad_entries_total", verdict="rejected")

    await eventually(rejected, 1.0)


async def test_requests_count_by_route_template(telemetry_site: TelemetrySite) -> None:
    site = telemetry_site
    await site.book("OBS-H")
    template = {"route": "/v1/parcels/{parcel_id}", "method": "GET"}
    before = await site.scrape()

    assert (await site.get("/v1/parcels/OBS-H")).status_code == 200
    assert (await site.get("/v1/parcels/NO-SUCH")).status_code == 404
    assert (await site.client.get("/no/such/route")).status_code == 404
    after = await site.scrape()

    def grew(scraped: Scraped, **labels: str) -> float:
        return after.value(HISTOGRAM_COUNT, **labels) - scraped.value(HISTOGRAM_COUNT, **labels)

    assert grew(before, **template, status_class="2xx") == 1
    assert grew(before, **template, status_class="4xx") == 1
    assert grew(before, route="unmatched", method="GET", status_class="4xx") == 1
    # Never the raw path: no series names a parcel.
    assert not any("OBS-H" in str(key) for key in after.samples)
    assert after.value(HISTOGRAM_COUNT, route=f"/v1/lockers/{LOCKER}") == 0


async def test_a_forged_locker_message_raises_the_adapters_drop_counter(
    telemetry_site: TelemetrySite,
) -> None:
    """What the OLP adapter refuses is counted by reason (`OlpStats.dropped`) and exposed as
    it stands, read at scrape time (never counted a second time on the way)."""
    site = telemetry_site
    series = {"adapter": "olp", "reason": "forged-src"}
    before = (await site.scrape()).value("openlocker_adapter_dropped_total", **series)
    forged = {
        "olp": "1.0",
        "id": "forged-1",
        "kind": "event",
        "action": "DoorClosed",
        "ts": "2026-11-21T10:00:00Z",
        "src": "SOMEONE-ELSE",  # not the locker whose topic carries it
        "seq": 1,
        "payload": {"compartmentCode": "A01", "itemSensor": "present"},
    }
    async with aiomqtt.Client("127.0.0.1", site.broker.port, identifier="forger") as mqtt:
        await mqtt.publish(f"olp/v1/{LOCKER}/evt/DoorClosed", json.dumps(forged), qos=1)

    async def dropped() -> float:
        return (await site.scrape()).value("openlocker_adapter_dropped_total", **series)

    await eventually(dropped, before + 1)
    olp = site.gateway.adapters.running["olp"]
    assert isinstance(olp, OlpAdapter)
    assert olp.stats().dropped["forged-src"] == before + 1  # the adapter's own count, once
