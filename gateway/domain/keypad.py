"""Keypad attempt limits: wrong codes per locker, lockouts with a doubling back-off, and a
daily cap on the wrong codes a locker's keypad takes at all."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from gateway.domain.backoff import backoff_s


@dataclass(frozen=True, slots=True, kw_only=True)
class KeypadPolicy:
    """`max_failures` wrong codes within `window` lock the keypad: `backoff_base` the first
    time, twice as long each further time, at most `backoff_cap`. After `quiet_reset` without
    a wrong code the back-off starts from `backoff_base` again; a correct code resets these.

    The window limit alone lets a patient guesser through: 4 wrong codes every 5 minutes and
    one more after each short lockout add up to about 1,100 guesses a day. So `daily_max_failures`
    wrong codes within `daily_window` (counted from the first of them) lock the keypad until
    that window ends, whatever the back-off says. A correct code does not reset this count:
    it is the locker's budget of guesses, and one person's valid code says nothing about the
    wrong ones typed before. Because the window is fixed rather than sliding, any 24 hours
    see at most twice the cap (the end of one window and the start of the next).

    The default, 100, is a trade: it cuts the patient guesser's ~1,100 a day elevenfold while a
    busy locker's honest typos (hundreds of pickups a day, a few per cent mistyped) stay well
    below it — a low cap would let typos, or a vandal, shut the keypad for a day."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=5)
    backoff_base: timedelta = timedelta(minutes=1)
    backoff_cap: timedelta = timedelta(hours=1)
    quiet_reset: timedelta = timedelta(hours=1)
    daily_max_failures: int = 100
    daily_window: timedelta = timedelta(hours=24)
    # A keypad entry older than this when it reaches the gateway opens nothing (SPEC §9).
    entry_max_age: timedelta = timedelta(seconds=10)

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.daily_max_failures < 1:
            raise ValueError("max_failures and daily_max_failures must be at least 1")
        for name in ("window", "backoff_base", "backoff_cap", "quiet_reset", "daily_window"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.backoff_cap < self.backoff_base:
            raise ValueError("backoff_cap must not be shorter than backoff_base")

    def backoff(self, lockout: int) -> timedelta:
        """The lock time of the `lockout`-th lockout in a row (1 = the first)."""
        # No jitter: the person at the keypad is told how long to wait.
        seconds = backoff_s(
            max(lockout, 1),
            base_s=self.backoff_base.total_seconds(),
            cap_s=self.backoff_cap.total_seconds(),
            rand=None,
        )
        return timedelta(seconds=seconds)


class LockoutReason(StrEnum):
    WINDOW = "window"  # max_failures within the window: the doubling back-off
    DAILY = "daily"  # daily_max_failures within the daily window: until that window ends


@dataclass(frozen=True, slots=True)
class Lockout:
    """One lockout: the how-many-th in a row, until when, and which limit was reached."""

    number: int
    until: datetime
    backoff: timedelta
    reason: LockoutReason = LockoutReason.WINDOW


@dataclass(frozen=True, slots=True)
class KeypadCounter:
    """The state of one locker's keypad, shared by every gateway instance (in the database)."""

    locker_id: str
    failures: int = 0
    window_started_at: datetime | None = None
    last_failure_at: datetime | None = None
    lockouts: int = 0
    locked_until: datetime | None = None
    day_failures: int = 0
    day_started_at: datetime | None = None
    lock_reason: LockoutReason | None = None  # the limit behind `locked_until`

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def failed(self, now: datetime, policy: KeypadPolicy) -> tuple[KeypadCounter, Lockout | None]:
        """Count a wrong code at `now`; the Lockout if this one locks the keypad."""
        counter = self
        quiet_since = max(
            (t for t in (self.last_failure_at, self.locked_until) if t is not None), default=None
        )
        if counter.lockouts and quiet_since is not None and now - quiet_since >= policy.quiet_reset:
            counter = replace(counter, lockouts=0)
        if counter.window_started_at is None or now - counter.window_started_at >= policy.window:
            counter = replace(counter, failures=0, window_started_at=now)
        if counter.day_started_at is None or now - counter.day_started_at >= policy.daily_window:
            counter = replace(counter, day_failures=0, day_started_at=now)
        counter = replace(
            counter,
            failures=counter.failures + 1,
            day_failures=counter.day_failures + 1,
            last_failure_at=now,
        )
        assert counter.day_started_at is not None  # set just above
        day_ends = counter.day_started_at + policy.daily_window
        daily = counter.day_failures >= policy.daily_max_failures
        if counter.failures < policy.max_failures and not daily:
            return counter, None
        number = counter.lockouts + 1
        backoff = policy.backoff(number)
        if daily and day_ends > now + backoff:
            # Locked until the day's window ends; the next wrong code then opens a new one.
            lockout = Lockout(
                number=number, until=day_ends, backoff=day_ends - now, reason=LockoutReason.DAILY
            )
        else:
            lockout = Lockout(number=number, until=now + backoff, backoff=backoff)
        counter = replace(
            counter,
            failures=0,
            window_started_at=None,
            lockouts=number,
            locked_until=lockout.until,
            lock_reason=lockout.reason,
        )
        return counter, lockout

    def cleared(self) -> KeypadCounter:
        """An operator ended the lockout: no lock, no back-off history, and the daily count
        starts afresh too (else the next wrong code would lock a daily-capped keypad again)."""
        return KeypadCounter(self.locker_id)

    def succeeded(self) -> KeypadCounter:
        """A correct code: the person at the keypad knows a valid code; the window and the
        back-off start afresh. The daily count stays (see KeypadPolicy)."""
        return KeypadCounter(
            self.locker_id, day_failures=self.day_failures, day_started_at=self.day_started_at
        )
