"""QoS 1 delivers at least once: remember recent (src, id) pairs and drop repeats."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class Deduper:
    """A bounded, time-windowed memory of message ids (SPEC §9: at least 10 minutes)."""

    def __init__(
        self,
        *,
        window_s: float = 600.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = window_s
        self._max = max_entries
        self._clock = clock
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()

    def first_time(self, src: str, message_id: str) -> bool:
        """True the first time a (src, id) is seen within the window."""
        now = self._clock()
        self._evict(now)
        key = (src, message_id)
        if key in self._seen:
            return False
        self._seen[key] = now
        return True

    def _evict(self, now: float) -> None:
        while self._seen:
            key, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self._window and len(self._seen) < self._max:
                break
            del self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)


class SequenceTracker:
    """Notices gaps in each sender's `seq` (logged by the caller, never fatal)."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def observe(self, src: str, seq: int) -> int:
        """How many messages are missing before this one (0 when in order or a restart)."""
        last = self._last.get(src)
        self._last[src] = max(seq, last or 0) if last is not None else seq
        if last is None or seq <= last:
            return 0
        return seq - last - 1
