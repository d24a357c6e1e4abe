"""The one back-off formula: exponential growth to a cap, with "equal jitter".

Every retry loop in the gateway (event handling, webhook and connector deliveries, MQTT and
serial reconnects, keypad lockouts without jitter) asks this function, so a change of policy
happens in one place.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_s(
    attempt: int,
    *,
    base_s: float,
    cap_s: float,
    rand: Callable[[], float] | None = random.random,
) -> float:
    """Seconds to wait after failure number `attempt` (1-based).

    The ceiling is c = min(cap, base * 2^(attempt-1)). With `rand` (the default) the wait is a
    uniform pick in [c/2, c]: clients that failed together (an outage) do not come back in
    lock-step, and a retry never follows its failure at once, as full jitter's [0, c] sometimes
    does. `rand=None` gives the plain ceiling, for waits a person is told about (lockouts).
    """
    if attempt < 1:
        raise ValueError("attempts count from 1")
    if base_s <= 0 or cap_s < base_s:
        raise ValueError("back-off needs 0 < base_s <= cap_s")
    # Clamp the exponent: 2.0**2000 overflows long before any sane cap is reached.
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt - 1, 64))
    if rand is None:
        return ceiling
    return ceiling / 2 + ceiling / 2 * rand()
