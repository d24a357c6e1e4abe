"""LockerLanes.put: an item put into a lane is handled, even when the lane retires meanwhile."""

from __future__ import annotations

import asyncio

from gateway.sdk import LockerLanes


async def test_a_put_woken_for_room_is_not_lost_when_the_lane_drains_at_once() -> None:
    # The lane is full and put(3) waits. The lane's task takes item 2 (room: put(3) is woken,
    # not yet run), handles it without yielding, finds the queue empty and would retire: item 3
    # must not land in the queue of a lane that no task reads any more.
    handled: list[int] = []
    gate = asyncio.Event()

    async def handle(locker_id: str, item: int) -> None:
        if item == 1:
            await gate.wait()
        handled.append(item)

    async with LockerLanes[int]("test", handler=handle, capacity=1) as lanes:
        assert lanes.offer("L1", 1)
        await asyncio.sleep(0)  # the lane's task holds item 1
        assert lanes.offer("L1", 2)  # the lane is full now
        waiting = asyncio.ensure_future(lanes.put("L1", 3))
        await asyncio.sleep(0.01)
        assert not waiting.done()
        gate.set()
        await asyncio.wait_for(waiting, 1)
        for _ in range(100):
            if len(handled) == 3:
                break
            await asyncio.sleep(0.01)
        assert handled == [1, 2, 3]
        assert lanes.stats().queued == 0
