"""UPU S10 item identifiers: two letters, eight digits, a check digit, an ISO country code."""

from __future__ import annotations

import re

_S10_SHAPE = re.compile(r"[A-Z]{2}[0-9]{9}[A-Z]{2}")
_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def looks_like_s10(parcel_id: str) -> bool:
    """An id with the 13-character S10 shape claims to be one and must then be valid."""
    # fullmatch, not match with `$`: `$` also matches before a trailing newline.
    return _S10_SHAPE.fullmatch(parcel_id) is not None


def s10_check_digit(serial: str) -> int:
    """The check digit for an 8-digit serial number (UPU S10, weights 8 6 4 2 3 5 9 7, mod 11)."""
    # isdigit() alone also accepts other scripts' digits (Arabic-Indic, full-width...).
    if len(serial) != 8 or not (serial.isascii() and serial.isdigit()):
        raise ValueError("an S10 serial number is exactly 8 digits")
    remainder = sum(int(d) * w for d, w in zip(serial, _WEIGHTS, strict=True)) % 11
    check = 11 - remainder
    if check == 10:
        return 0
    if check == 11:
        return 5
    return check


def s10_problem(parcel_id: str) -> str | None:
    """Why an S10-shaped id is invalid, or None when it is valid."""
    if not looks_like_s10(parcel_id):
        return "not in the S10 format AA999999999AA"
    serial, check = parcel_id[2:10], int(parcel_id[10])
    expected = s10_check_digit(serial)
    if check != expected:
        return f"S10 check digit is {check}, expected {expected}"
    return None
