"""One-time passwords: what an admin sets for someone else (a new operator, a reset).

The person signs in with it once and must then set their own password before anything else;
after `ONE_TIME_VALIDITY` it no longer signs in at all (it travelled over a chat or a phone
call). The stored hash carries the mark and the deadline in front of its argon2id PHC string
(`once:<unix seconds>:$argon2id$…`): the state lives with the password it belongs to, so any
new password (a hash without the mark) ends it, with no column to keep in step.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

MARK = "once:"
ONE_TIME_VALIDITY = timedelta(days=3)
# No look-alikes (0/o, 1/l/i): read out over the phone or copied by hand. 31 symbols x 20 is
# 99 bits, far beyond guessing (sign-ins are limited anyway).
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_GROUPS, _GROUP = 4, 5


def new_one_time_password() -> str:
    """`abcde-fghjk-mnpqr-stuvw`: random, 23 characters (passes the password length rule)."""
    groups = ("".join(secrets.choice(_ALPHABET) for _ in range(_GROUP)) for _ in range(_GROUPS))
    return "-".join(groups)


def mark(phc: str, until: datetime) -> str:
    """The stored form of a one-time password's hash, good until `until`."""
    return f"{MARK}{int(until.timestamp())}:{phc}"


def until(stored: str | None) -> datetime | None:
    """When the stored one-time password stops signing in; None for an operator's own."""
    if stored is None or not stored.startswith(MARK):
        return None
    seconds, _, _ = stored.removeprefix(MARK).partition(":")
    try:
        return datetime.fromtimestamp(int(seconds), UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.fromtimestamp(0, UTC)  # unreadable: treated as long expired


def expired(stored: str | None, now: datetime) -> bool:
    deadline = until(stored)
    return deadline is not None and now >= deadline


def phc(stored: str) -> str:
    """The argon2id PHC string inside a stored hash, marked or not."""
    if not stored.startswith(MARK):
        return stored
    return stored.removeprefix(MARK).partition(":")[2]
