"""Request/response over MQTT: one future per correlation id, so the receive loop never waits."""

from __future__ import annotations

import asyncio
from typing import Generic, TypeVar

from gateway.errors import OperationTimeout

R = TypeVar("R")


class PendingCalls(Generic[R]):
    """Futures of calls awaiting their reply `R` (a typed message), keyed by call id."""

    def __init__(self) -> None:
        self._futures: dict[str, asyncio.Future[R]] = {}

    def expect(self, call_id: str) -> asyncio.Future[R]:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._futures[call_id] = future
        return future

    def resolve(self, corr: str | None, reply: R) -> bool:
        """Hand a reply to the waiter of call `corr`; False when nobody waits (late,
        duplicate or foreign)."""
        future = self._futures.pop(str(corr), None)
        if future is None or future.done():
            return False
        future.set_result(reply)
        return True

    async def wait(self, call_id: str, future: asyncio.Future[R], timeout_s: float) -> R:
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise OperationTimeout(f"no reply to call {call_id} within {timeout_s:g} s") from None
        finally:
            self._futures.pop(call_id, None)

    def forget(self, call_id: str) -> None:
        """The call never went out: nobody will wait for its reply."""
        future = self._futures.pop(call_id, None)
        if future is not None and not future.done():
            future.cancel()

    def fail_all(self, error: BaseException) -> None:
        """The connection is gone: waiters learn at once instead of at their timeout."""
        for future in self._futures.values():
            if not future.done():
                future.set_exception(error)
        self._futures.clear()

    def __len__(self) -> int:
        return len(self._futures)
