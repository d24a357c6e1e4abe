"""Feeds adapters' events to the door service: in order per locker, lockers in parallel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from types import TracebackType

from gateway.errors import ConcurrentUpdate, Unavailable
from gateway.sdk import LockerAdapter, LockerEvent

RETRIES = 5

log = logging.getLogger(__name__)
Handler = Callable[[LockerEvent], Awaitable[None]]


class EventRouter:
    """`async with EventRouter(handler=...) as router: router.follow(adapter)`."""

    def __init__(self, *, handler: Handler) -> None:
        self._handler = handler
        self._queues: dict[str, asyncio.Queue[LockerEvent]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._group = asyncio.TaskGroup()

    async def __aenter__(self) -> EventRouter:
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._group.__aexit__(exc_type, exc, tb)

    def follow(self, name: str, adapter: LockerAdapter) -> None:
        self._tasks.append(self._group.create_task(self._pump(adapter), name=f"events:{name}"))

    async def _pump(self, adapter: LockerAdapter) -> None:
        async for event in adapter.events():
            queue = self._queues.get(event.locker_id)
            if queue is None:
                queue = self._queues[event.locker_id] = asyncio.Queue()
                task = self._group.create_task(
                    self._work(event.locker_id, queue), name=f"locker:{event.locker_id}"
                )
                self._tasks.append(task)
            queue.put_nowait(event)

    async def _work(self, locker_id: str, queue: asyncio.Queue[LockerEvent]) -> None:
        while True:
            event = await queue.get()
            for attempt in range(RETRIES):
                try:
                    await self._handler(event)
                    break
                except (Unavailable, ConcurrentUpdate) as err:
                    # The database hiccuped: the event is retried, in order, before the next.
                    log.warning("event from %s not handled yet (%s); retrying", locker_id, err)
                    await asyncio.sleep(0.2 * 2**attempt)
                except Exception:
                    log.exception("handling %s from %s failed", type(event).__name__, locker_id)
                    break
