"""Per-target circuit breakers and rate limits, kept by one engine instance.

This state lives in the process, not the database: each gateway instance opens its own
breaker and spends its own rate budget. With N instances a target sees at most N probes and
N times the configured rate; the outbox rows themselves are still shared and never lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from aiolimiter import AsyncLimiter

from gateway.delivery.routes import DeliveryPolicy

__all__ = ["Breaker", "BreakerState", "TargetState"]


class BreakerState(StrEnum):
    CLOSED = "closed"  # attempts go out
    OPEN = "open"  # attempts are held back until the reset time
    HALF_OPEN = "half-open"  # one probe is out; its outcome closes or re-opens the circuit


@dataclass
class Breaker:
    """Opens after `failures` consecutive failed attempts; one probe after `reset_s`."""

    failures: int
    reset_s: float
    state: BreakerState = BreakerState.CLOSED
    consecutive: int = 0
    opened_at: datetime | None = None

    def admit(self, now: datetime) -> bool:
        """Whether an attempt may go out now; in half-open state only the one probe may."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN and self._reset_due(now):
            self.state = BreakerState.HALF_OPEN
            return True  # this attempt is the probe
        return False

    def held_until(self, now: datetime) -> datetime:
        """When a held-back attempt should be tried again."""
        if self.state is BreakerState.OPEN and self.opened_at is not None:
            return max(self.opened_at + timedelta(seconds=self.reset_s), now)
        # Half-open: the probe is out; look again soon, its outcome decides.
        return now + timedelta(seconds=min(self.reset_s, 1.0))

    def succeeded(self) -> None:
        self.state, self.consecutive, self.opened_at = BreakerState.CLOSED, 0, None

    def failed(self, now: datetime) -> bool:
        """Count a failure; True if this one opened (or re-opened) the circuit."""
        self.consecutive += 1
        if self.state is BreakerState.HALF_OPEN or (
            self.state is BreakerState.CLOSED and self.consecutive >= self.failures
        ):
            self.state, self.opened_at = BreakerState.OPEN, now
            return True
        return False

    def abandoned(self) -> None:
        """The probe never got an outcome (released unattempted): let another probe go."""
        if self.state is BreakerState.HALF_OPEN:
            self.state = BreakerState.OPEN

    def _reset_due(self, now: datetime) -> bool:
        assert self.opened_at is not None
        return now >= self.opened_at + timedelta(seconds=self.reset_s)


@dataclass
class TargetState:
    """One target's breaker and rate limiter, rebuilt when its policy changes."""

    policy: DeliveryPolicy
    breaker: Breaker
    limiter: AsyncLimiter | None
    waiting: int = 0  # attempts queued on the limiter right now

    @classmethod
    def for_policy(cls, policy: DeliveryPolicy) -> TargetState:
        limiter = None
        if policy.rate_per_s is not None:
            # A leaky bucket of `rate_burst` that drains at `rate_per_s`.
            burst = max(1, policy.rate_burst)
            limiter = AsyncLimiter(burst, burst / policy.rate_per_s)
        return cls(
            policy=policy,
            breaker=Breaker(failures=policy.breaker_failures, reset_s=policy.breaker_reset_s),
            limiter=limiter,
        )
