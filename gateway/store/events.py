"""The append-only history of each parcel."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from gateway.domain.parcel import ParcelEvent
from gateway.errors import ConcurrentUpdate
from gateway.store._sql import Repository, insert_all_if_absent, insert_if_absent
from gateway.store.tables import parcel_events as t


class EventRepository(Repository):
    async def append(self, parcel_uid: str, event: ParcelEvent) -> None:
        """Append one event; its seq must be new for the parcel (else ConcurrentUpdate)."""
        # A taken seq means another transition of this parcel got there first.
        if not await insert_if_absent(self._conn, t, _row(parcel_uid, event)):
            raise ConcurrentUpdate(
                f"parcel {parcel_uid} already has event {event.seq}",
                details={"parcelUid": parcel_uid, "seq": event.seq},
            )

    async def append_all(self, parcel_uid: str, events: Sequence[ParcelEvent]) -> None:
        """Append several events in one statement (a booking's announced and reserved); each
        seq must be new for the parcel, else ConcurrentUpdate and none is meant to stay (the
        caller's transaction rolls back)."""
        if len(events) == 1:
            await self.append(parcel_uid, events[0])
            return
        rows = [_row(parcel_uid, event) for event in events]
        if await insert_all_if_absent(self._conn, t, rows) != len(rows):
            seqs = [event.seq for event in events]
            raise ConcurrentUpdate(
                f"parcel {parcel_uid} already has one of the events {seqs}",
                details={"parcelUid": parcel_uid, "seq": seqs},
            )

    async def list(self, parcel_uid: str) -> builtins.list[ParcelEvent]:
        stmt = select(t).where(t.c.parcel_uid == parcel_uid).order_by(t.c.seq)
        return [
            ParcelEvent(
                seq=row["seq"],
                type=row["type"],
                from_state=row["from_state"],
                to_state=row["to_state"],
                at=row["at"],
                details=row["details"],
            )
            for row in (await self._conn.execute(stmt)).mappings()
        ]


def _row(parcel_uid: str, event: ParcelEvent) -> dict[str, Any]:
    return {
        "parcel_uid": parcel_uid,
        "seq": event.seq,
        "type": event.type,
        "from_state": event.from_state,
        "to_state": event.to_state,
        "at": event.at,
        "details": event.details,
    }
