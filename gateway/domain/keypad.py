"""Keypad attempt limits: wrong codes per locker, lockouts with a doubling back-off."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from gateway.domain.backoff import backoff_s


@dataclass(frozen=True, slots=True, kw_only=True)
class KeypadPolicy:
    """`max_failures` wrong codes within `window` lock the keypad: `backoff_base` the first
    time, twice as long each further time, at most `backoff_cap`. After `quiet_reset` without
    a wrong code the back-off starts from `backoff_base` again; a correct code resets all."""

    max_failures: int = 5
    window: timedelta = timedelta(minutes=5)
    backoff_base: timedelta = timedelta(minutes=1)
    backoff_cap: timedelta = timedelta(hours=1)
    quiet_reset: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        for name in ("window", "backoff_base", "backoff_cap", "quiet_reset"):
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


@dataclass(frozen=True, slots=True)
class Lockout:
    """One lockout: the how-many-th in a row, and until when."""

    number: int
    until: datetime
    backoff: timedelta


@dataclass(frozen=True, slots=True)
class KeypadCounter:
    """The state of one locker's keypad, shared by every gateway instance (in the database)."""

    locker_id: str
    failures: int = 0
    window_started_at: datetime | None = None
    last_failure_at: datetime | None = None
    lockouts: int = 0
    locked_until: datetime | None = None

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
        counter = replace(counter, failures=counter.failures + 1, last_failure_at=now)
        if counter.failures < policy.max_failures:
            return counter, None
        number = counter.lockouts + 1
        backoff = policy.backoff(number)
        lockout = Lockout(number=number, until=now + backoff, backoff=backoff)
        counter = replace(
            counter, failures=0, window_started_at=None, lockouts=number, locked_until=lockout.until
        )
        return counter, lockout

    def succeeded(self) -> KeypadCounter:
        """A correct code: the person at the keypad knows a valid code; start afresh."""
        return KeypadCounter(self.locker_id)
