"""The one way to run background work: named tasks in a TaskGroup, stopped when the block ends.

    async with TaskSet("olp") as tasks:
        tasks.start(self._receive_loop(), name="olp:receive")
        ...                                  # leaving the block cancels and awaits every task

`background(coro, name)` is the same for a single loop, as an async context manager that an
`AsyncExitStack` can hold. Nothing in the gateway or its adapters calls `create_task` itself:
a task that nobody awaits can die unseen, and one that nobody cancels outlives its owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from types import TracebackType
from typing import Any, Self

log = logging.getLogger(__name__)
# How long stopping waits for tasks that ignore cancellation before each loud log line.
STOP_PATIENCE_S = 5.0


class TaskSet:
    """Named background tasks sharing one lifetime (an `asyncio.TaskGroup`).

    A task that raises takes the set down with it, as a TaskGroup does: loops that must
    survive their errors catch them themselves (and say so in a log line).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._group = asyncio.TaskGroup()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._open = False

    async def __aenter__(self) -> Self:
        await self._group.__aenter__()
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        await self._cancel_all()
        with contextlib.suppress(asyncio.CancelledError):
            await self._group.__aexit__(exc_type, exc, tb)

    def start(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run `coro` as a task named `name` until it returns or the set stops."""
        if not self._open:
            coro.close()
            raise RuntimeError(f"task set {self.name} is not running; cannot start {name}")
        task = self._group.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        """Tasks still running: what fleet benchmarks count per locker."""
        return len(self._tasks)

    async def _cancel_all(self) -> None:
        # Cancel again while waiting: on Python 3.11 a cancellation that lands while aiomqtt's
        # `wait_for` receives an acknowledgement can be swallowed, and one `cancel()` is lost.
        # Giving up would not help: the TaskGroup awaits its tasks anyway, so keep cancelling
        # and say loudly which task holds the shutdown up.
        loop = asyncio.get_running_loop()
        warn_at = loop.time() + STOP_PATIENCE_S
        while self._tasks:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.wait(list(self._tasks), timeout=0.2)
            if self._tasks and loop.time() > warn_at:
                names = sorted(t.get_name() for t in self._tasks)
                log.error("%s: tasks %s still running after cancellation", self.name, names)
                warn_at = loop.time() + STOP_PATIENCE_S


@contextlib.asynccontextmanager
async def background(
    coro: Coroutine[Any, Any, Any], name: str
) -> AsyncIterator[asyncio.Task[Any]]:
    """Run one named background loop for the lifetime of the block."""
    async with TaskSet(name) as tasks:
        yield tasks.start(coro, name=name)
