"""A log line that a storm cannot turn into a flood: the first of a burst, then a count.

A broker restart sends every locker's messages at once; a condition met by one message in a
quiet hour (a call that arrived after its `exp`) is then met by thousands in a minute. Logged
one line each, 13,111 warnings hid everything else in a 10,000-locker boot storm
(bench/boot_storm.py). `BurstLog` writes the first occurrence of a window in full, counts the
others, and says how many it held back when the next window opens. The counters the call sites
keep (drop reasons, metrics) stay exact; only the log is thinned.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class BurstLog:
    """At most one line per `window_s` through `logger` at `level`, plus a count of the rest."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        level: int = logging.WARNING,
        window_s: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_s <= 0:
            raise ValueError("a burst window must be longer than 0 s")
        self._logger = logger
        self._level = level
        self._window_s = window_s
        self._monotonic = monotonic
        self._window_ends = float("-inf")
        self._held_back = 0

    def log(self, message: str, *args: object) -> None:
        now = self._monotonic()
        if now < self._window_ends:
            self._held_back += 1
            return
        if self._held_back:
            self._logger.log(
                self._level,
                "%d more like the line before held back in the last %g s (counted, not logged)",
                self._held_back,
                self._window_s,
            )
        self._held_back = 0
        self._window_ends = now + self._window_s
        self._logger.log(self._level, message, *args)
