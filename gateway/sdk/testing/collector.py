"""Reads what an adapter handed to the kit's host, so tests can wait for, and order, events."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, TypeVar

from gateway.sdk.events import LockerEvent
from gateway.sdk.testing.host import RecordingHost

E = TypeVar("E", bound=LockerEvent)


class EventCollector:
    """`events = EventCollector(host)`: every event the adapter handed to `host`, in order.

    It reads the host's `handed_over` queue as a test waits, so it needs no task of its own;
    give each host one collector (a second one would see only what the first left).
    """

    def __init__(self, host: RecordingHost) -> None:
        self._queue = host.handed_over
        self._received: list[LockerEvent] = []
        self._taken: set[int] = set()

    @property
    def received(self) -> list[LockerEvent]:
        """Every event handed over so far, in order."""
        self._drain()
        return self._received

    def _drain(self) -> None:
        while True:
            try:
                self._received.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                return

    async def _wait(self, seconds: float) -> None:
        """Until the adapter hands over another event, or `seconds` passed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                self._received.append(await self._queue.get())

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
            left = until - loop.time()
            if left <= 0:
                wanted = ", ".join(f"{k}={v!r}" for k, v in fields.items())
                raise AssertionError(
                    f"no {kind.__name__}({wanted}) within {within:g} s; "
                    f"events received: {self.describe()}"
                )
            await self._wait(left)

    async def assert_none(self, kind: type[E], *, within: float, **fields: Any) -> None:
        """Wait `within` seconds and fail if an event of `kind` with these fields arrived."""
        await asyncio.sleep(within)
        found = self._find(kind, fields)
        if found is not None:
            raise AssertionError(f"unexpected {found[1]!r}; events received: {self.describe()}")

    def of(self, locker_id: str) -> list[LockerEvent]:
        """Every event of one locker so far, in the order it was handed over."""
        return [e for e in self.received if e.locker_id == locker_id]

    def describe(self) -> str:
        received = self.received
        if not received:
            return "none"
        return "; ".join(_short(e) for e in received[-20:])


def _short(event: LockerEvent) -> str:
    parts = [type(event).__name__]
    for name in ("compartment_code", "item", "online", "seq"):
        value = getattr(event, name, None)
        if value is not None:
            parts.append(f"{name}={value}")
    return " ".join(parts)


_MISSING = object()
