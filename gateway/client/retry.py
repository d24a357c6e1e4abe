"""When the client sends a request again: 429 with Retry-After, 5xx, no answer at all.

Every request the client makes is safe to repeat: reads, POSTs under an Idempotency-Key that
the retry reuses (the gateway replays the first answer, SPEC §6; 5xx answers leave no answer
behind), `codes` and `grants` (a retry yields the code or grant that counts) and the
idempotent DELETE. Each attempt carries a fresh carrier token, since a `jti` is single use.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from gateway.domain.backoff import backoff_s

__all__ = ["RetryPolicy", "retry_after_s"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` counts the first one; `RetryPolicy(attempts=1)` never retries.

    Waits follow the project's one back-off formula (equal jitter, `gateway.domain.backoff`).
    A `Retry-After` longer than `max_retry_after_s` is not waited for: the error is raised at
    once, with the problem, so that the caller decides (a batch job may wait; a checkout
    page should not).
    """

    attempts: int = 4
    base_s: float = 0.5
    cap_s: float = 8.0
    max_retry_after_s: float = 60.0
    statuses: frozenset[int] = RETRY_STATUSES
    rand: Callable[[], float] = field(default=random.random, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts counts the first one: at least 1")

    def after_failure(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (no answer, or no hint)."""
        return backoff_s(attempt, base_s=self.base_s, cap_s=self.cap_s, rand=self.rand)

    def after_answer(
        self, attempt: int, response: httpx.Response, *, now: datetime | None = None
    ) -> float | None:
        """Seconds to wait before sending again after this error answer; None: do not."""
        if attempt >= self.attempts or response.status_code not in self.statuses:
            return None
        hinted = retry_after_s(response.headers.get("Retry-After"), now=now)
        if hinted is None:
            return self.after_failure(attempt)
        return hinted if hinted <= self.max_retry_after_s else None

    def may_retry(self, attempt: int) -> bool:
        return attempt < self.attempts


def retry_after_s(value: str | None, *, now: datetime | None = None) -> float | None:
    """RFC 9110 `Retry-After`: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": RFC 5322 for "UTC, origin unknown"
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
