"""Back-off follows the injected clock; throughput; two instances deliver each event once."""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from tests.webhooks.conftest import HOOK, FakeCarrier, Received, running


async def test_back_off_waits_for_the_clock_not_for_the_wall(
    database_url: str, receiver: FakeCarrier
) -> None:
    # Back-off of at most 60 s (base 30 s): only moving the clock can bring the retry.
    slow_schedule: dict[str, Any] = {"webhook_backoff_base_s": 30.0, "webhook_backoff_cap_s": 60}
    async with running(database_url, receiver, **slow_schedule) as hooks:
        sub = await hooks.subscribe()
        receiver.on().fail_next = 1
        await hooks.book("WH-CLOCK-1", reserve=False)
        await receiver.wait_for_attempts(1)

        (waiting,) = await hooks.settled_attempt(sub["id"])
        # A later event for another subscription goes out: the engine has polled since, and
        # passed over the failed row, which is not due before the clock moves.
        site = hooks.site
        await hooks.subscribe(receiver.url("/later"), carrier=site.globex)
        body = {"parcelId": "WH-CLOCK-2", "lockerId": "KRK-MAIN-01", "sizeClass": "M"}
        booked = await site.post(
            "/v1/parcels", body | {"reserve": False}, key="book-clock-2", carrier=site.globex
        )
        assert booked.status_code == 201, booked.text
        await receiver.wait_for(1, path="/later")
        assert len([r for r in receiver.received if r.path != "/later"]) == 1
        hooks.site.clock.advance(61)

        await receiver.wait_for(1, path=HOOK)
        assert [r.attempt for r in receiver.received if r.path != "/later"] == [1, 2]
        assert waiting["lastStatus"] == 500


async def test_time_to_deliver_200_events(database_url: str, receiver: FakeCarrier) -> None:
    async with running(database_url, receiver) as hooks:
        await hooks.subscribe()
        started = time.perf_counter()
        await asyncio.gather(*(hooks.book(f"WH-BULK-{n:03d}", reserve=False) for n in range(100)))
        await asyncio.gather(*(hooks.cancel(f"WH-BULK-{n:03d}") for n in range(100)))
        booked = time.perf_counter() - started
        await receiver.wait_for(200, patience_s=60)
        delivered = time.perf_counter() - started
        # One at a time: from the API's answer to the receiver, on an idle gateway.
        idle = []
        for n in range(20):
            begun = time.perf_counter()
            await hooks.book(f"WH-IDLE-{n:02d}", reserve=False)
            await receiver.wait_for(201 + n)
            idle.append(time.perf_counter() - begun)

    by_parcel: dict[str, list[int]] = defaultdict(list)
    latencies = []
    first_arrivals: dict[str, Received] = {}
    for request in receiver.delivered():
        # At least once: an attempt that timed out under load may have arrived anyway and is
        # sent again with the same event id. Order is judged on each event's first arrival.
        first_arrivals.setdefault(request.event_id, request)
    for request in first_arrivals.values():
        body = request.json()
        if not body["parcel"]["parcelId"].startswith("WH-BULK-"):
            continue
        by_parcel[body["parcel"]["parcelId"]].append(body["event"]["seq"])
        occurred = datetime.fromisoformat(body["occurredAt"]).timestamp()
        latencies.append(request.at - occurred)
    assert all(seqs == [1, 2] for seqs in by_parcel.values())
    assert len(by_parcel) == 100
    latencies.sort()
    p50, p95, worst = (latencies[int(q * (len(latencies) - 1))] for q in (0.5, 0.95, 1.0))
    print(
        f"\n200 events ({database_url.split(':')[0]}): API calls took {booked:.2f} s, last"
        f" delivery at {delivered:.2f} s; event-to-receiver latency p50 {p50 * 1000:.0f} ms,"
        f" p95 {p95 * 1000:.0f} ms, max {worst * 1000:.0f} ms; idle: booking call + delivery"
        f" {sorted(idle)[10] * 1000:.0f} ms median"
    )


async def test_two_instances_deliver_each_event_once(
    database_url: str, receiver: FakeCarrier
) -> None:
    async with (
        running(database_url, receiver) as first,
        running(database_url, receiver, setup=False) as second,
    ):
        sub = await first.subscribe()
        sites = [first, second]
        await asyncio.gather(
            *(sites[n % 2].book(f"WH-TWO-{n:02d}") for n in range(8)),
        )
        await asyncio.gather(*(sites[n % 2].cancel(f"WH-TWO-{n:02d}") for n in range(8)))

        await receiver.wait_for(24, patience_s=30)
        # Every row settled after one claim (attempts counts claims): no instance sent any
        # event twice, and a settled row is never sent again.
        rows = await first.settled(sub["id"], 24)
        assert {(d["state"], d["attempts"]) for d in rows} == {("delivered", 1)}

    counts = Counter(r.event_id for r in receiver.received)
    assert len(counts) == 24
    assert set(counts.values()) == {1}, "an event was delivered twice"
    by_parcel: dict[str, list[int]] = defaultdict(list)
    for request in receiver.received:
        by_parcel[request.json()["parcel"]["parcelId"]].append(request.json()["event"]["seq"])
    assert all(seqs == [1, 2, 3] for seqs in by_parcel.values())
