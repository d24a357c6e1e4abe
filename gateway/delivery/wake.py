"""The delivery engine woken by every instance's commits on PostgreSQL, not only its own.

A transaction that makes outbox rows due sends `NOTIFY openlocker_outbox_due` (delivered at
its commit; gateway/store/outbox_due.py). Each engine keeps one connection that LISTENs on
the channel and wakes the engine on every notification, so a row queued through another
instance (or replayed by `openlocker deliveries replay`) is attempted at once rather than at
this instance's next poll (`[webhooks] poll_interval`). The poll stays: it is the fallback
while the connection is down, and the only wake-up for retries that come due by time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.domain.backoff import backoff_s
from gateway.store.outbox_due import CHANNEL

log = logging.getLogger(__name__)
# A connection that died without a word (a cut network) shows at the next check.
CHECK_EVERY_S = 30.0


class OutboxWakeUps:
    """One LISTEN connection for one delivery engine; `run_forever` keeps it up."""

    def __init__(
        self, *, engine: AsyncEngine, wake: Callable[[], None], check_every_s: float = CHECK_EVERY_S
    ) -> None:
        self._engine = engine
        self._wake = wake
        self._check_every_s = check_every_s
        self.listening = False
        self.notified = 0

    async def run_forever(self) -> None:
        """Listen; after a lost connection, listen again with back-off (run under
        `gateway.sdk.background`)."""
        attempt = 0
        while True:
            try:
                await self._listen()
                attempt = 1  # it was up: the first try again comes soon
                log.warning("outbox wake-ups: the LISTEN connection was lost; reconnecting")
            except Exception as err:
                attempt += 1
                # Meanwhile the engine polls: rows from other instances wait for the poll.
                log.warning("outbox wake-ups: cannot LISTEN (%s); polling meanwhile", err)
            await asyncio.sleep(backoff_s(attempt, base_s=0.5, cap_s=30.0))

    async def _listen(self) -> None:
        """Returns when the connection is lost; raises when it cannot be set up."""
        conn = await self._engine.connect()
        try:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection  # asyncpg's Connection
            lost = asyncio.Event()
            driver.add_termination_listener(lambda _connection: lost.set())
            await driver.add_listener(CHANNEL, self._notified)
            self.listening = True
            log.info("outbox wake-ups: listening on %s", CHANNEL)
            self._wake()  # rows made due while nobody listened are looked for once
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._check_every_s):
                        await lost.wait()
                if not lost.is_set():
                    # Raises on a dead socket; the timeout catches a silent cut, which TCP
                    # alone would notice only after ~15 minutes.
                    async with asyncio.timeout(self._check_every_s):
                        await driver.execute("SELECT 1")
        finally:
            self.listening = False
            # Never back into the pool: a pooled connection must not keep a LISTEN.
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()

    def _notified(self, _connection: Any, _pid: int, _channel: str, _payload: str) -> None:
        self.notified += 1
        self._wake()
