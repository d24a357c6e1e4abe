"""Readiness: what a load balancer must know before it sends this instance work.

Two dependencies, checked for real on every probe: the database answers a query within a
short timeout, and this instance's MQTT connection to the broker is up (the OLP adapter's
own connection state, not a fresh connection per probe). Liveness (`/healthz`) checks
nothing: a process that answers HTTP is alive, and restarting it for a database outage
would not help.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

OK = "ok"


@dataclass(frozen=True, slots=True)
class Readiness:
    """`await check()` -> {dependency: "ok" or why not}."""

    ping_database: Callable[[], Awaitable[None]]
    broker_connected: Callable[[], bool | None]  # None: this instance uses no broker
    timeout_s: float = 2.0

    async def check(self) -> dict[str, str]:
        checks = {"database": await self._database()}
        broker = self.broker_connected()
        if broker is not None:
            checks["broker"] = OK if broker else "disconnected"
        return checks

    async def _database(self) -> str:
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.ping_database()
        except TimeoutError:
            return f"no answer within {self.timeout_s:g} s"
        except Exception as err:  # whatever the driver raises: the verdict is "not ready"
            return f"unreachable ({type(err).__name__})"
        return OK
