"""The published OLP → GS1 CBV table, read from the copy this package ships (never from schemas/).

`data/olp-to-gs1-cbv.json` and `data/olp-event-types.json` are byte-for-byte copies of
`schemas/v1/vocabulary/` (a test keeps them equal), so an installed gateway maps with exactly
the table the spec publishes, and a wheel needs no repository checkout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files
from typing import Any

from gateway.sdk.connectors import OLP_EVENT_TYPES, ConnectorConfigError

__all__ = ["CbvMapping", "Location", "Vocabulary", "load_vocabulary"]


class Location(StrEnum):
    """Where the parcel is for an event: it decides readPoint and bizLocation."""

    AT_LOCKER = "at_locker"  # in the locker afterwards: readPoint and bizLocation
    LEFT_LOCKER = "left_locker"  # seen at the locker, not in it afterwards: readPoint only
    ELSEWHERE = "elsewhere"  # not an observation at the locker: neither


@dataclass(frozen=True, slots=True)
class CbvMapping:
    """One row of olp-to-gs1-cbv.json that yields an EPCIS event."""

    event_type: str
    biz_step: str
    disposition: str
    location: Location


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The mapped event types, the deliberately unmapped ones, and the terminal types."""

    mappings: dict[str, CbvMapping]
    unmapped: frozenset[str]
    terminal: frozenset[str]


def _read(name: str) -> dict[str, Any]:
    text = files("connectors.epcis").joinpath("data", name).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def load_vocabulary() -> Vocabulary:
    """The table, checked to cover every OLP event type once (ConnectorConfigError if not)."""
    try:
        table = _read("olp-to-gs1-cbv.json")
        types = _read("olp-event-types.json")
        mappings: dict[str, CbvMapping] = {}
        unmapped: set[str] = set()
        seen: list[str] = []
        for row in table["mappings"]:
            event_type = row["eventType"]
            seen.append(event_type)
            if row["bizStep"] is None:
                unmapped.add(event_type)
                continue
            mappings[event_type] = CbvMapping(
                event_type, row["bizStep"], row["disposition"], Location(row["location"])
            )
        terminal = frozenset(t["type"] for t in types["eventTypes"] if t["terminal"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConnectorConfigError(f"epcis: the shipped CBV table is unreadable: {err}") from err
    if sorted(seen) != sorted(OLP_EVENT_TYPES):
        raise ConnectorConfigError(
            "epcis: the shipped CBV table does not list every OLP event type exactly once"
        )
    return Vocabulary(mappings, frozenset(unmapped), terminal)
