"""Opaque pagination cursors: a kind tag and a position, base64url so clients don't parse them."""

from __future__ import annotations

import base64
import binascii

from gateway.errors import FieldIssue, ValidationFailed


def encode_cursor(kind: str, position: int) -> str:
    raw = f"{kind}:{position}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, _, position = base64.urlsafe_b64decode(padded).decode().partition(":")
        value = int(position)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value, tag = -1, ""
    if tag != kind or value < 0:
        raise ValidationFailed(
            "cursor is not one this API handed out",
            issues=(FieldIssue("/query/cursor", "invalid cursor"),),
        )
    return value
