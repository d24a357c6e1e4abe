"""Boot admission: how many Boots may use the database at once, and when the others come back.

A broker restart makes every locker of the network reconnect and Boot within seconds. Each Boot
is a database transaction; let a thousand of them queue for the pool and the last wait longer
than the locker's own timeout (a Boot's `exp`): the locker gives up, Boots again, and the
gateway does the same work twice while the queue stays full (congestion collapse, measured with
`bench/boot_storm.py`: lockers still unaccepted after minutes). Admission keeps the queue short
instead: at most `limit` Boots in the database at once; a Boot beyond that is answered `Pending`
at once, before any database work, with a least wait (SPEC §9: after `Pending`,
`heartbeatIntervalSeconds` is the least wait before the next Boot) spread over the time the
backlog needs to drain at the rate Boots are being completed. Admitted Boots are answered well
within their `exp`; turned-away lockers come back spread out, not in one wave.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# A locker told to wait longer than this is shown as stuck on the console for no reason; a
# backlog that needs longer still drains, one round of Pending at a time.
MAX_WAIT_S = 60
# Completions counted for the drain-rate estimate: long enough to smooth one slow commit, short
# enough to follow a database that got slower.
RATE_WINDOW_S = 10.0
# Lockers told to wait are expected back within this long; older entries are forgotten (the
# locker went away, or came back to another instance).
BACKLOG_MEMORY_S = float(MAX_WAIT_S) * 2


@dataclass(frozen=True, slots=True)
class Turnaway:
    """A Boot not admitted: come back in `wait_s` (whole seconds, as OLP carries them)."""

    wait_s: int
    in_flight: int
    backlog: int


class BootAdmission:
    """Counts Boots in the database; turns the excess away with a spread-out least wait.

    Not thread-safe and needs no lock: it runs in one event loop and never awaits.
    """

    def __init__(
        self,
        *,
        limit: int,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if limit < 1:
            raise ValueError("boot admission needs a limit of at least 1")
        self._limit = limit
        self._monotonic = monotonic
        self._rand = rand
        self._in_flight = 0
        self._done: deque[float] = deque()  # completion times within RATE_WINDOW_S
        self._waiting: dict[str, float] = {}  # locker id -> when it was turned away
        self.turned_away = 0  # since start, for metrics and the bench

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def enter(self, locker_id: str) -> Turnaway | None:
        """None: admitted (call `leave` when its transaction is over). Else: how long to wait."""
        now = self._monotonic()
        self._forget_older_than(now - BACKLOG_MEMORY_S)
        if self._in_flight < self._limit:
            self._in_flight += 1
            self._waiting.pop(locker_id, None)
            return None
        # Re-inserted, so the dict stays in the order lockers were turned away (oldest first).
        self._waiting.pop(locker_id, None)
        self._waiting[locker_id] = now
        self.turned_away += 1
        return Turnaway(self._wait_s(now), self._in_flight, len(self._waiting))

    def leave(self) -> None:
        """An admitted Boot's database work is over (accepted, rejected or failed)."""
        if self._in_flight <= 0:
            raise RuntimeError("BootAdmission.leave without a matching enter")
        self._in_flight -= 1
        now = self._monotonic()
        self._done.append(now)
        while self._done and self._done[0] < now - RATE_WINDOW_S:
            self._done.popleft()

    def _wait_s(self, now: float) -> int:
        # Drain time of the backlog at the measured completion rate; before any completion is
        # measured, assume a full batch per second (a database answers a Boot in milliseconds).
        while self._done and self._done[0] < now - RATE_WINDOW_S:
            self._done.popleft()
        span = now - self._done[0] if len(self._done) > 1 else 0.0
        rate = (len(self._done) / span) if span > 0 else float(self._limit)
        drain_s = len(self._waiting) / max(rate, 1.0)
        # Uniform over [1, drain] (at least [1, 2]): the backlog comes back spread across the
        # time it needs, not as one wave after the same wait.
        upper = max(2.0, drain_s)
        wait = 1.0 + (upper - 1.0) * self._rand()
        return min(MAX_WAIT_S, math.ceil(wait))

    def _forget_older_than(self, cutoff: float) -> None:
        # Oldest first (see `enter`): stop at the first locker still expected back.
        while self._waiting:
            locker, at = next(iter(self._waiting.items()))
            if at >= cutoff:
                return
            del self._waiting[locker]
