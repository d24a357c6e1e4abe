"""The audit trail's hash chain: the canonical encoding of an entry and its SHA-256 link."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# The `prev_hash` of the first entry: there is nothing before it.
GENESIS_HASH = "0" * 64
# Bumped if the encoding below ever changes, so old and new entries can be told apart.
_ENCODING_VERSION = 1
# Who acted: a carrier, a locker, one gateway instance, or a person at the operator console
# ("operator:<id>": a signed-in one, "operator:<id>/token:<token id>" when an API token acted),
# the CLI run by whoever holds the host ("cli:<OS user>"; "operator" alone in older entries),
# or a parcel's recipient through its self-service link ("recipient:<parcel uid>").
_ACTOR = re.compile(r"^(operator|(carrier|locker|gateway|operator|recipient|cli):\S.*)$")


def check_actor(actor: str) -> str:
    """`actor` if it is "carrier:<id>", "locker:<id>", "gateway:<instance>",
    "recipient:<parcel uid>", "cli:<user>", "operator" or "operator:<id>"."""
    if not isinstance(actor, str) or not _ACTOR.match(actor):
        raise ValueError(
            f"audit actor {actor!r} must be carrier:<id>, locker:<id>, gateway:<id>, "
            "recipient:<parcel uid>, cli:<user>, operator or operator:<id>"
        )
    return actor


def normalise_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """`details` as plain JSON values, exactly as they will read back from the database.

    The hash is computed over what is stored, so anything JSON would change on the way (tuples,
    non-string keys) is converted first, and anything JSON cannot hold is refused now.
    """
    if details is None:
        return {}
    try:
        normal = json.loads(json.dumps(dict(details), allow_nan=False))
    except (TypeError, ValueError) as err:
        raise ValueError(f"audit details must be JSON values: {err}") from err
    assert isinstance(normal, dict)
    return normal


def canonical_bytes(
    *,
    position: int,
    at: datetime,
    action: str,
    actor: str,
    subject: str,
    details: Mapping[str, Any],
    prev_hash: str,
) -> bytes:
    """One entry as sorted, compact JSON: the same bytes on every engine and Python version."""
    body = {
        "v": _ENCODING_VERSION,
        "position": position,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "action": action,
        "actor": actor,
        "subject": subject,
        "details": details,
        "prev_hash": prev_hash,
    }
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def entry_hash(
    *,
    position: int,
    at: datetime,
    action: str,
    actor: str,
    subject: str,
    details: Mapping[str, Any],
    prev_hash: str,
) -> str:
    """The SHA-256 (hex) that chains an entry to `prev_hash`."""
    encoded = canonical_bytes(
        position=position,
        at=at,
        action=action,
        actor=actor,
        subject=subject,
        details=details,
        prev_hash=prev_hash,
    )
    return hashlib.sha256(encoded).hexdigest()
