"""When to try again: the peer's `Retry-After` (RFC 9110 §10.2.3) read as seconds from now."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["retry_after_s"]

# A peer asking for more than a day is treated as asking for a day; the policy's cap applies
# later anyway. Bounding here keeps a silly value from overflowing a timedelta.
_MAX_S = 86_400.0


def retry_after_s(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from `now` per a `Retry-After` value; None when absent or unreadable.

    Either delay-seconds (a non-negative integer) or an HTTP-date; a date in the past means
    "now" (0). Anything else is ignored rather than trusted: the normal back-off applies.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # delay-seconds: digits only, no sign, no fraction
        return min(float(text), _MAX_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return min(max((when - now).total_seconds(), 0.0), _MAX_S)
