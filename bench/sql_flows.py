"""SQL statements and transactions per remote open and per lifecycle (`bench.sql_counts --flow`).

`open` counts the remote open request and the locker's DoorOpened that follows it (the
booking before it is not counted); `lifecycle` counts the booking, the remote open, the
deposit's DoorClosed, the pickup's remote open and the take's DoorClosed. Each step waits for
the state through a second engine the hooks do not see, then for the gateway to go quiet, so
no poll and no background loop is counted (bench/door_transactions.py's Counter). Prints
medians.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bench.door_transactions import counted_site

LOCKER = "SQL-1"
QUIET_S = 0.3  # no statement for this long: the gateway is done with the step


async def count_flow(kind: str, flow: str, parcels: int, show: bool) -> None:
    samples: list[tuple[int, int]] = []
    last: list[str] = []
    async with counted_site(kind, LOCKER, parcels) as site:
        counter, locker, post = site.counter, site.locker, site.post

        async def until(pid: str, wanted: str) -> None:
            async with asyncio.timeout(15):
                while await site.state(pid) != wanted:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)

        async def quiet() -> None:
            mark, since = counter.mark(), time.monotonic()
            while time.monotonic() - since < QUIET_S:
                await asyncio.sleep(0.02)
                if counter.mark() != mark:
                    mark, since = counter.mark(), time.monotonic()

        for n in range(parcels):
            pid = f"SQL-{n:04d}"
            body = {"parcelId": pid, "lockerId": LOCKER, "sizeClass": "S"}
            before = counter.mark()
            door = str((await post("/v1/parcels", body))["compartmentCode"])
            if flow == "open":  # the booking is not part of an open
                await quiet()
                before = counter.mark()
            await post(f"/v1/parcels/{pid}/open", {})
            await asyncio.wait_for(locker.wait_door(door, "open"), 10)
            if flow == "lifecycle":
                locker.deposit(door)
                await until(pid, "ready_for_pickup")
                await quiet()
                await post(f"/v1/parcels/{pid}/open", {})
                await asyncio.wait_for(locker.wait_door(door, "open"), 10)
                locker.take(door)
                await until(pid, "picked_up")
            await quiet()
            after = counter.mark()
            samples.append((after[0] - before[0], after[1] - before[1]))
            last = counter.statements[before[1] : after[1]]
    # The first parcels warm caches (carrier keys, audit head): report the steady state.
    steady = samples[len(samples) // 2 :]
    transactions = statistics.median(s[0] for s in steady)
    statements = statistics.median(s[1] for s in steady)
    what = "remote open + DoorOpened" if flow == "open" else "lifecycle (book to pickup)"
    print(f"{kind}: {what} (median of the last {len(steady)} of {parcels})")
    print(f"  SQL statements      {statements:5.1f}")
    print(f"  transactions        {transactions:5.1f}")
    if show:
        for statement in last:
            print(f"    {statement[:160]}")
