"""How many SMS parts a text needs: GSM 03.38 7-bit when every character fits, else UCS-2."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SmsSize", "sms_size"]

# The GSM 03.38 default alphabet (one septet each) and its extension table (escape + one
# septet, so two each). A text with any other character is sent as UCS-2.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")

# Units per message: a single part, or a part of a concatenated message (the user data
# header takes 6 octets: 7 septets of GSM-7, 3 UCS-2 characters).
_GSM_SINGLE, _GSM_PART = 160, 153
_UCS2_SINGLE, _UCS2_PART = 70, 67


@dataclass(frozen=True, slots=True)
class SmsSize:
    encoding: str  # "gsm-7" or "ucs-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    parts: int


def sms_size(text: str) -> SmsSize:
    """The encoding, length and part count of `text` as a network would send it."""
    if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in text):
        units = sum(2 if ch in _GSM_EXTENDED else 1 for ch in text)
        return SmsSize("gsm-7", units, _parts(units, _GSM_SINGLE, _GSM_PART))
    # Characters outside the Basic Multilingual Plane (emoji) take two UTF-16 units.
    units = len(text.encode("utf-16-le")) // 2
    return SmsSize("ucs-2", units, _parts(units, _UCS2_SINGLE, _UCS2_PART))


def _parts(units: int, single: int, part: int) -> int:
    if units <= single:
        return 1
    return -(-units // part)  # ceiling division
