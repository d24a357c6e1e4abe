"""What query on scan reads: the parcels that carry a scanned id (any carrier), and the
courier sessions open at a locker (whose courier is standing there)."""

from __future__ import annotations

import builtins
from datetime import datetime

from sqlalchemy import select

from gateway.domain.parcel import Parcel
from gateway.store._sql import Repository
from gateway.store.parcels import _parcel
from gateway.store.tables import courier_sessions as sessions
from gateway.store.tables import parcels as t

# A parcel id is unique per carrier, so a scan can match one parcel of each carrier; more
# than a few is not a real label.
MATCH_LIMIT = 8


class ScanRepository(Repository):
    async def parcels_with_id(self, parcel_id: str) -> builtins.list[Parcel]:
        """Every parcel with this id, of any carrier, newest first."""
        stmt = (
            select(t).where(t.c.parcel_id == parcel_id).order_by(t.c.seq.desc()).limit(MATCH_LIMIT)
        )
        return [_parcel(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def rounds_at(self, locker_id: str, now: datetime) -> builtins.list[tuple[str, str]]:
        """(session id, carrier id) of the courier sessions open at the locker, newest first."""
        stmt = (
            select(sessions.c.id, sessions.c.carrier_id)
            .where(
                sessions.c.locker_id == locker_id,
                sessions.c.closed_at.is_(None),
                sessions.c.expires_at > now,
            )
            .order_by(sessions.c.opened_at.desc())
        )
        rows = (await self._conn.execute(stmt)).mappings()
        return [(row["id"], row["carrier_id"]) for row in rows]
