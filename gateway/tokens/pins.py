"""Access codes (PINs): random digits, kept only as a keyed hash bound to one locker."""

from __future__ import annotations

import hashlib
import hmac
import secrets

# The policy: at least 8 digits (10^8 codes against a keypad that locks after a few tries).
PIN_DIGITS = 8
MAX_PIN_DIGITS = 12


def new_pin(digits: int = PIN_DIGITS) -> str:
    """A uniformly random code of `digits` decimal digits (leading zeros allowed)."""
    if not PIN_DIGITS <= digits <= MAX_PIN_DIGITS:
        raise ValueError(f"a PIN has {PIN_DIGITS} to {MAX_PIN_DIGITS} digits, not {digits}")
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def pin_hash(secret: bytes, locker_id: str, pin: str) -> str:
    """Keyed hash of a PIN for one locker. Keyed (HMAC with the network's secret) because an
    8-digit space is tiny: a plain hash of a leaked table would be reversed in seconds.
    Bound to the locker: the same digits at another locker are a different hash."""
    message = f"olp-pin:v1:{locker_id}:{pin}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def looks_like_pin(text: str) -> bool:
    """True for what could be one of our codes: 8 to 12 ASCII digits."""
    return PIN_DIGITS <= len(text) <= MAX_PIN_DIGITS and text.isascii() and text.isdigit()
