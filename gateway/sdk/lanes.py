"""One lane per locker: a bounded queue worked off, in order, by at most one task.

Every message or event of one locker passes through its lane and nothing else, so a locker's
events are applied in the order they came, and a slow or flooding locker fills only its own
lane: others keep flowing. A lane's task exists only while the lane holds work; a fleet of
10,000 quiet lockers costs no task at all.

    async with LockerLanes("olp", handler=self._handle, capacity=256) as lanes:
        if not lanes.offer(locker_id, message):   # from a receive loop that must never wait
            ...                                    # full: refuse it, the sender retries
        await lanes.put(locker_id, event)          # from a poll loop: waits for room

The handler is awaited for one item at a time per locker. An exception it lets out is logged
and counted (`handler_errors`); the lane goes on with the next item. Handlers that must not
lose an item (the gateway's event pipeline) retry and park it themselves.

An overload episode of a locker runs from the first item its full lane refused until the lane
has worked off everything it held: `on_overload` is told twice per episode (started, then
ended with the episode's refusals), never once per refused item, however long the flood.
`catch_up`, asked when such a lane has drained, may queue one more item before the episode
ends (the OLP adapter asks the gateway to have the refused events sent again): the refused
items come back in chunks, back to back, each at most a lane's worth, within one episode.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Self, TypeVar

from gateway.sdk.lifetime import TaskSet

log = logging.getLogger(__name__)
T = TypeVar("T")
Handler = Callable[[str, T], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LaneOverload:
    """One locker's overload episode, as told when it starts and when it ends.

    `refused` counts the items refused in the episode so far (1 when it starts); `seconds`
    is how long it lasted (0 when it starts)."""

    lanes: str  # the LockerLanes' name (the adapter's)
    locker_id: str
    ended: bool
    refused: int
    seconds: float


# Told when an episode starts and when it ends; called from the receive loop (start) or the
# lane's task (end), so it must not block: record, count, hand on.
OverloadHook = Callable[[LaneOverload], None]
# Asked when a lane that refused items has drained: an item to queue (the episode goes on
# until it too is worked off), or None to end the episode.
CatchUp = Callable[[str], T | None]


@dataclass(frozen=True, slots=True)
class LaneStats:
    """A snapshot for logs, metrics and fleet benchmarks."""

    lanes: int  # lockers with work queued or in hand (= running lane tasks)
    queued: int  # items waiting in all lanes
    refused: int  # items refused because their lane was full, since start
    handler_errors: int  # items whose handler raised, since start
    overloads: int = 0  # overload episodes started, since start
    overloaded: int = 0  # lockers in an overload episode now


class _Lane(Generic[T]):
    __slots__ = ("overloaded", "putters", "queue", "since")

    def __init__(self, capacity: int) -> None:
        self.queue: asyncio.Queue[T] = asyncio.Queue(capacity)
        self.overloaded = 0  # refusals in the current overload episode (0: none)
        self.since = 0.0  # when the episode started (loop time)
        self.putters = 0  # put() calls waiting for room in this lane


class LockerLanes(Generic[T]):
    """Per-locker ordered, bounded work queues; see the module docstring."""

    def __init__(
        self,
        name: str,
        *,
        handler: Handler[T],
        capacity: int = 256,
        on_overload: OverloadHook | None = None,
        catch_up: CatchUp[T] | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("a lane holds at least one item")
        self.name = name
        self._handler = handler
        self._capacity = capacity
        self._on_overload = on_overload
        self._catch_up = catch_up
        self._lanes: dict[str, _Lane[T]] = {}
        self._tasks = TaskSet(name)
        self._refused: Counter[str] = Counter()
        self._errors = 0
        self._overloads = 0

    async def __aenter__(self) -> Self:
        await self._tasks.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        queued = sum(lane.queue.qsize() for lane in self._lanes.values())
        if queued:
            # Not lost for good: MQTT lockers resend unacknowledged calls and replay journaled
            # events from their own journal; the count says how much was in hand.
            log.warning("%s: stopping with %d item(s) still queued", self.name, queued)
        await self._tasks.__aexit__(exc_type, exc, tb)
        for locker_id, lane in self._lanes.items():
            if lane.overloaded:
                self._end_episode(locker_id, lane)  # told: no episode is left open
        self._lanes.clear()

    def offer(self, locker_id: str, item: T) -> bool:
        """Queue `item` without waiting; False (counted, hook told) when the lane is full."""
        lane = self._lane(locker_id)
        try:
            lane.queue.put_nowait(item)
        except asyncio.QueueFull:
            self._refuse(locker_id, lane)
            return False
        return True

    async def put(self, locker_id: str, item: T) -> None:
        """Queue `item`, waiting for room: the caller is slowed down to the handler's pace."""
        lane = self._lane(locker_id)
        lane.putters += 1
        try:
            await lane.queue.put(item)
        finally:
            lane.putters -= 1

    def stats(self) -> LaneStats:
        return LaneStats(
            lanes=len(self._lanes),
            queued=sum(lane.queue.qsize() for lane in self._lanes.values()),
            refused=sum(self._refused.values()),
            handler_errors=self._errors,
            overloads=self._overloads,
            overloaded=sum(1 for lane in self._lanes.values() if lane.overloaded),
        )

    def refused(self, locker_id: str) -> int:
        """Items of this locker refused for a full lane since start."""
        return self._refused[locker_id]

    def _lane(self, locker_id: str) -> _Lane[T]:
        lane = self._lanes.get(locker_id)
        if lane is None:
            lane = self._lanes[locker_id] = _Lane(self._capacity)
            self._tasks.start(self._work(locker_id, lane), name=f"{self.name}:{locker_id}")
        return lane

    def _refuse(self, locker_id: str, lane: _Lane[T]) -> None:
        self._refused[locker_id] += 1
        lane.overloaded += 1
        if lane.overloaded == 1:
            self._overloads += 1
            lane.since = asyncio.get_running_loop().time()
            log.warning(
                "%s: lane of locker %s is full (%d items): refusing more until it drains",
                self.name,
                locker_id,
                self._capacity,
            )
            self._tell(LaneOverload(self.name, locker_id, ended=False, refused=1, seconds=0.0))

    def _end_episode(self, locker_id: str, lane: _Lane[T]) -> None:
        refused, lane.overloaded = lane.overloaded, 0
        seconds = asyncio.get_running_loop().time() - lane.since
        log.warning(
            "%s: lane of locker %s drained: overload over after %.1f s, %d item(s) refused",
            self.name,
            locker_id,
            seconds,
            refused,
        )
        self._tell(LaneOverload(self.name, locker_id, ended=True, refused=refused, seconds=seconds))

    def _tell(self, overload: LaneOverload) -> None:
        if self._on_overload is None:
            return
        try:
            self._on_overload(overload)
        except Exception:
            # A hook's bug must not take the receive loop or a lane down with it.
            log.exception("%s: the overload hook failed for %s", self.name, overload.locker_id)

    def _next_chunk(self, locker_id: str, lane: _Lane[T]) -> bool:
        """The drained lane of an overloaded locker: True if `catch_up` queued an item."""
        if self._catch_up is None:
            return False
        try:
            item = self._catch_up(locker_id)
        except Exception:
            log.exception("%s: catching up locker %s failed", self.name, locker_id)
            return False
        if item is None:
            return False
        lane.queue.put_nowait(item)  # the lane is empty: there is room
        return True

    async def _work(self, locker_id: str, lane: _Lane[T]) -> None:
        queue = lane.queue
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                if lane.putters:
                    # A put() was woken for room but has not run yet: retiring now would leave
                    # its item in a queue that no task reads. Let it put, then take it.
                    await asyncio.sleep(0)
                    continue
                if lane.overloaded and self._next_chunk(locker_id, lane):
                    continue  # the episode goes on with what the owner queued to catch up
                # Retire in the same step as the emptiness check: the next item starts a new
                # lane (and task), so an idle locker holds no task.
                if self._lanes.get(locker_id) is lane:
                    del self._lanes[locker_id]
                if lane.overloaded:
                    self._end_episode(locker_id, lane)
                return
            try:
                await self._handler(locker_id, item)
            except Exception:
                self._errors += 1
                log.exception("%s: handling an item of locker %s failed", self.name, locker_id)
