"""Access codes (PINs): random digits, kept only as a keyed hash bound to one locker."""

from __future__ import annotations

import hashlib
import hmac
import secrets

PIN_DIGITS = 8


def new_pin(digits: int = PIN_DIGITS) -> str:
    """A uniformly random code of `digits` decimal digits (leading zeros allowed)."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def pin_hash(secret: bytes, locker_id: str, pin: str) -> str:
    """Keyed hash of a PIN for one locker. Keyed (HMAC with the network's secret) because an
    8-digit space is tiny: a plain hash of a leaked table would be reversed in seconds.
    Bound to the locker: the same digits at another locker are a different hash."""
    message = f"olp-pin:v1:{locker_id}:{pin}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def looks_like_pin(text: str) -> bool:
    return 4 <= len(text) <= 12 and text.isascii() and text.isdigit()
