"""Locker events as JSON for the parked_events table, and the operator's view of them."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from gateway.sdk import (
    CodeEntered,
    DoorClosed,
    DoorOpened,
    JournalReported,
    KeySetRefused,
    LockerEvent,
    LockerFault,
    PresenceChanged,
)
from gateway.store import Store
from gateway.store.parked_events import ParkedEvent

# Every event type the pipeline can park, by the name stored in the `type` column.
_TYPES: dict[str, TypeAdapter[Any]] = {
    cls.__name__: TypeAdapter(cls)
    for cls in (
        DoorOpened,
        DoorClosed,
        CodeEntered,
        LockerFault,
        PresenceChanged,
        JournalReported,
        KeySetRefused,
    )
}


def encode_event(event: LockerEvent) -> tuple[str, dict[str, Any]]:
    """(type name, JSON object) of an event; `decode_event` gives the same event back."""
    name = type(event).__name__
    data: dict[str, Any] = _TYPES[name].dump_python(event, mode="json", warnings=False)
    return name, data


def decode_event(type_name: str, data: dict[str, Any]) -> LockerEvent:
    adapter = _TYPES.get(type_name)
    if adapter is None:
        raise ValueError(f"unknown locker event type {type_name!r}")
    event: LockerEvent = adapter.validate_python(data)
    return event


class ParkedEvents:
    """What `openlocker events` shows and flags; the gateway's sweep does the retrying."""

    def __init__(self, *, store: Store) -> None:
        self._store = store

    async def page(
        self, *, locker_id: str | None = None, after_id: int | None = None, limit: int = 100
    ) -> list[ParkedEvent]:
        async with self._store.transaction() as tx:
            return await tx.parked_events.page(locker_id=locker_id, after_id=after_id, limit=limit)

    async def request_retry(
        self, ids: list[int] | None = None, *, locker_id: str | None = None
    ) -> list[int]:
        """Flag events (`ids`, or all, or all of `locker_id`) for the next sweep of a gateway."""
        async with self._store.transaction() as tx:
            return await tx.parked_events.request_retry(ids, locker_id=locker_id)
