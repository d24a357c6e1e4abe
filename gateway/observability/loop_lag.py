"""Event-loop lag: how late a timer fires. Everything in the gateway shares one loop, so a
blocking call anywhere (a slow parse, a sync file read) shows here first."""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Histogram

log = logging.getLogger(__name__)
# A lag this long is said in the log as well (rate-limited by the interval itself).
WARN_S = 0.5


async def monitor_loop_lag(histogram: Histogram, *, interval_s: float = 0.5) -> None:
    """Forever: sleep `interval_s`, observe how much later than asked the loop woke us.
    Run it with `gateway.sdk.background` (it never returns)."""
    loop = asyncio.get_running_loop()
    while True:
        asked = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        lag = max(0.0, loop.time() - asked)
        histogram.observe(lag)
        if lag >= WARN_S:
            log.warning("event loop ran %.0f ms late: something blocked it", lag * 1000)
