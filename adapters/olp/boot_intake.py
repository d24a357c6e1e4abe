"""Boots at receipt: queue the ones the lanes can answer within their `exp`, `Pending` the rest.

Boot admission (the gateway's `BootAdmission`) bounds the Boots in the database, but it sees a
Boot only when the locker's lane reaches it. In a storm of 10,000 lockers the lanes are the
queue: every Boot's `exp` (10 s) passed while it waited there, the lane dropped it as expired,
the locker retried, and the retries kept the backlog full (bench/boot_storm.py: 0 of 10,000
accepted after 260 s, congestion collapse). So the MQTT receive loop asks this first, before
decoding the Boot (`peek_boot` reads its id and `exp` with one `json.loads`): while the Boots
in hand (received, not answered yet) would take longer than a fraction of this Boot's
remaining time, the locker is answered `Pending` at once with a least wait (SPEC §9) spread
over the time the gateway needs for everyone it turned away; it boots later, after that wait.
Nothing is lost: a `Pending` locker keeps its session and simply Boots again.

"In hand" counts a Boot until it is answered, not until its lane starts it: the lanes start
Boots at once, and what makes them late is everything after (the loop's other work, the
database's round trips), which the age of the oldest unanswered Boot and the rate of answers
measure whatever its cause. The Boot's own remaining time already lost what it spent in the
broker and the receive queue.

Not thread-safe and needs no lock: it runs in the adapter's event loop and never awaits.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

# A Boot is queued only if the lanes are expected to reach it within this share of its
# remaining time: the rest is for its transaction, the reply and the broker's round trips.
QUEUE_SHARE = 0.5
# The rate the turned-away are spread at when nothing faster was measured. In a cold start
# every locker arrives within a second, before any Boot is answered, so this alone sets the
# spread: at 32/s 1,000 lockers took 32 s to boot on a quiet host, where the gateway accepts
# ~90 a second after a broker restart (bench/boot_storm.py, session 7). Too optimistic costs
# little: a locker back early is answered `Pending` again here, before any decoding.
PRIOR_RATE = 100.0
# Never turned away while this few are queued: a quiet gateway answers every Boot itself.
MIN_BACKLOG = 16
# Boots worked off (or accepted) counted for the rate estimates.
RATE_WINDOW_S = 10.0
# A locker told to wait longer is shown as stuck on the console for no reason (as in the
# admission); a bigger backlog still drains, one round of `Pending` at a time.
MAX_WAIT_S = 60
# Lockers told to wait are expected back within this long; older entries are forgotten.
TOLD_MEMORY_S = 2.0 * MAX_WAIT_S
# `exp` of a Boot without one: the locker waits about this long for the reply (SPEC §9).
DEFAULT_BUDGET_S = 10.0


@dataclass(frozen=True, slots=True)
class BootHeader:
    """What a Boot needs to be answered or dropped at receipt: its id and its `exp`."""

    call_id: str
    exp: datetime | None

    def remaining_s(self, now: datetime) -> float:
        if self.exp is None:
            return DEFAULT_BUDGET_S
        return (self.exp - now).total_seconds()


def peek_boot(raw: bytes, id_pattern: Callable[[str], object]) -> BootHeader | None:
    """The id and `exp` of a Boot call, from one `json.loads` (no schema, no model).

    None for anything doubtful (not JSON, not a call, an id the envelope forbids, an `exp` that
    is not a date): such a Boot takes the lane's full path, which refuses it properly."""
    try:
        message = json.loads(raw)
    except (RecursionError, ValueError):
        return None
    if not isinstance(message, dict) or message.get("kind") != "call":
        return None
    ident, exp = message.get("id"), message.get("exp")
    if not isinstance(ident, str) or not id_pattern(ident):
        return None
    if exp is None:
        return BootHeader(ident, None)
    if not isinstance(exp, str):
        return None
    try:
        when = datetime.fromisoformat(exp)
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return BootHeader(ident, when)


@dataclass(frozen=True, slots=True)
class IntakeStats:
    queued: int  # Boots in hand now: received, not answered yet
    told_to_wait: int  # lockers answered `Pending` at receipt, expected back
    pending_at_receipt: int  # since start
    expired_at_receipt: int  # since start
    statuses_folded: int = 0  # online Statuses that waited for an accepted Boot, since start


class BootIntake:
    """Which Boots the lanes take, and how long the others wait; see the module docstring."""

    def __init__(
        self,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._monotonic = monotonic
        self._rand = rand
        # Locker -> when its Boot in hand arrived; oldest first (OrderedDict: O(1) at the front).
        self._queued: OrderedDict[str, float] = OrderedDict()
        self._answered: deque[float] = deque()  # when a Boot was answered, within the window
        self._accepted: deque[float] = deque()  # when a Boot was accepted, within the window
        self._told: OrderedDict[str, float] = OrderedDict()  # locker -> when told to wait
        self.pending_at_receipt = 0
        self.expired_at_receipt = 0
        self.statuses_folded = 0

    def stats(self) -> IntakeStats:
        return IntakeStats(
            len(self._queued),
            len(self._told),
            self.pending_at_receipt,
            self.expired_at_receipt,
            self.statuses_folded,
        )

    def wait_for(self, locker_id: str, remaining_s: float) -> int | None:
        """None: take this Boot (then call `queued`). Else the seconds its locker is to wait.

        A locker whose earlier Boot is still queued is never turned away: its lane answers the
        newest Boot it has (the adapter's slot keeps one per locker)."""
        if locker_id in self._queued:
            return None
        backlog = len(self._queued)
        if backlog < MIN_BACKLOG:
            return None
        now = self._monotonic()
        oldest_age = now - next(iter(self._queued.values()))
        drain_rate = _rate(self._answered, now) or PRIOR_RATE
        expected_s = max(oldest_age, backlog / drain_rate)
        if expected_s <= QUEUE_SHARE * remaining_s:
            return None
        return self._turn_away(locker_id, now, expected_s)

    @property
    def behind(self) -> bool:
        """Whether Boots are piling up: many in hand, or one was turned away within a Boot's
        default budget. A storm, not a quiet gateway booting a locker now and then."""
        if len(self._queued) >= MIN_BACKLOG:
            return True
        if not self._told:
            return False
        newest = next(reversed(self._told.values()))
        return newest >= self._monotonic() - DEFAULT_BUDGET_S

    def told_to_wait(self, locker_id: str) -> bool:
        """Whether this locker was answered `Pending` at receipt and has not booted since."""
        at = self._told.get(locker_id)
        return at is not None and at >= self._monotonic() - TOLD_MEMORY_S

    def queued(self, locker_id: str) -> None:
        """The Boot is in its locker's lane now (in hand until `answered`)."""
        self._queued.setdefault(locker_id, self._monotonic())

    def answered(self, locker_id: str) -> None:
        """The lane is done with this locker's Boot (answered, refused or dropped)."""
        if self._queued.pop(locker_id, None) is not None:
            self._answered.append(self._monotonic())

    def accepted(self, locker_id: str) -> None:
        self._accepted.append(self._monotonic())
        self._told.pop(locker_id, None)

    def folded(self) -> None:
        """An online Status that waited for its Boot was folded into the accepted Boot."""
        self.statuses_folded += 1

    def expired(self) -> None:
        """A Boot whose `exp` had passed when it arrived (dropped before any work)."""
        self.expired_at_receipt += 1

    def _turn_away(self, locker_id: str, now: float, expected_s: float) -> int:
        self.pending_at_receipt += 1
        cutoff = now - TOLD_MEMORY_S
        while self._told:
            oldest = next(iter(self._told.values()))
            if oldest >= cutoff:
                break
            self._told.popitem(last=False)
        self._told.pop(locker_id, None)
        self._told[locker_id] = now
        # Everyone told to wait comes back, and each needs an accepted Boot: spread them over
        # the time the gateway needs for all of them, and not before the Boots in hand are
        # answered. Never at less than PRIOR_RATE: the accept rate measured while lockers are
        # away waiting is their return rate, not what the gateway can do, and spreading by it
        # would keep the storm as slow as it started (seen in bench/boot_storm.py). Too short a
        # wait costs little: a locker back early is told `Pending` again, at receipt.
        measured = _rate(self._accepted, now) or _rate(self._answered, now)
        rate = max(measured, PRIOR_RATE)
        lower = max(1.0, expected_s)
        upper = max(lower + 1.0, (len(self._told) + len(self._queued)) / rate)
        wait = lower + (upper - lower) * self._rand()
        return min(MAX_WAIT_S, math.ceil(wait))


def _rate(times: deque[float], now: float) -> float:
    """Events per second over the window (0 until two are in it)."""
    while times and times[0] < now - RATE_WINDOW_S:
        times.popleft()
    if len(times) < 2:
        return 0.0
    # At least a second: two Boots answered within a millisecond are not 2,000 a second.
    return len(times) / max(now - times[0], 1.0)
