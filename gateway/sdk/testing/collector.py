"""Reads an adapter's `events()` in the background so tests can wait for, and order, events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, TypeVar

from gateway.sdk.adapter import LockerAdapter
from gateway.sdk.events import LockerEvent

E = TypeVar("E", bound=LockerEvent)


class EventStreamFailed(AssertionError):
    """The adapter's `events()` iterator raised or ended while the adapter was running."""


class EventCollector:
    """`async with EventCollector(adapter=...) as events:` — every event, in arrival order.

    `observers` see each event as it arrives (the kit's host uses that to mirror presence, as
    the gateway does).
    """

    def __init__(
        self,
        *,
        adapter: LockerAdapter,
        observers: tuple[Callable[[LockerEvent], None], ...] = (),
    ) -> None:
        self._adapter = adapter
        self._observers = observers
        self.received: list[LockerEvent] = []
        self._taken: set[int] = set()
        self._changed = asyncio.Event()
        self._failure: BaseException | None = None
        self._ended = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        # One named task, not a TaskGroup: pytest-asyncio may enter and leave this context in
        # different tasks, and a TaskGroup must be left by the task that entered it.
        self._task = asyncio.create_task(self._read(), name="conformance-event-reader")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _read(self) -> None:
        try:
            async for event in self._adapter.events():
                self.received.append(event)
                for observe in self._observers:
                    observe(event)
                self._wake()
        except asyncio.CancelledError:
            raise
        except Exception as err:  # reported to the test that waits, never swallowed
            self._failure = err
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _check_stream(self) -> None:
        if self._failure is not None:
            raise EventStreamFailed(
                f"adapter.events() raised {type(self._failure).__name__}: {self._failure}"
            ) from self._failure
        if self._ended:
            raise EventStreamFailed("adapter.events() ended while the adapter was running")

    def _find(self, kind: type[E], fields: dict[str, Any]) -> tuple[int, E] | None:
        for index, event in enumerate(self.received):
            if index in self._taken or not isinstance(event, kind):
                continue
            if all(getattr(event, name, _MISSING) == value for name, value in fields.items()):
                return index, event
        return None

    async def next_matching(self, kind: type[E], *, within: float, **fields: Any) -> E:
        """The oldest event of type `kind` with these field values not returned before.

        Fails the test (AssertionError) after `within` seconds, listing what did arrive.
        """
        loop = asyncio.get_running_loop()
        until = loop.time() + within
        while True:
            found = self._find(kind, fields)
            if found is not None:
                self._taken.add(found[0])
                return found[1]
            self._check_stream()
            left = until - loop.time()
            if left <= 0:
                wanted = ", ".join(f"{k}={v!r}" for k, v in fields.items())
                raise AssertionError(
                    f"no {kind.__name__}({wanted}) within {within:g} s; "
                    f"events received: {self.describe()}"
                )
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await changed.wait()

    async def assert_none(self, kind: type[E], *, within: float, **fields: Any) -> None:
        """Wait `within` seconds and fail if an event of `kind` with these fields arrived."""
        await asyncio.sleep(within)
        self._check_stream()
        found = self._find(kind, fields)
        if found is not None:
            raise AssertionError(f"unexpected {found[1]!r}; events received: {self.describe()}")

    def of(self, locker_id: str) -> list[LockerEvent]:
        """Every event of one locker so far, in arrival order."""
        return [e for e in self.received if e.locker_id == locker_id]

    def describe(self) -> str:
        if not self.received:
            return "none"
        return "; ".join(_short(e) for e in self.received[-20:])


def _short(event: LockerEvent) -> str:
    parts = [type(event).__name__]
    for name in ("compartment_code", "item", "online", "seq"):
        value = getattr(event, name, None)
        if value is not None:
            parts.append(f"{name}={value}")
    return " ".join(parts)


_MISSING = object()
