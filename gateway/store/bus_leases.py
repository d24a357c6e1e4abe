"""Bus leases: one row per bus, naming the instance allowed to drive it and until when.

Every change is one conditional statement, so two instances racing for a lease cannot both
win: PostgreSQL re-checks the WHERE clause of a blocked UPDATE against the winner's row, and
SQLite transactions hold the write lock from their first statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import RowMapping, select, update

from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import bus_leases as t


@dataclass(frozen=True, slots=True)
class BusLease:
    bus: str
    owner: str
    # Raised by every takeover: a lease is renewed, released or acted on only with its token.
    token: int
    acquired_at: datetime
    expires_at: datetime


class BusLeaseRepository(Repository):
    async def get(self, bus: str) -> BusLease | None:
        row = (await self._conn.execute(select(t).where(t.c.bus == bus))).mappings().first()
        return None if row is None else _lease(row)

    async def acquire(
        self, bus: str, owner: str, *, now: datetime, ttl: timedelta
    ) -> BusLease | None:
        """A new lease for `owner` if nobody holds an unexpired one, else None.

        Also None when `owner` itself holds it: a second process started under the same
        instance name must not drive the bus next to the first. A clean stop releases.
        """
        fresh = BusLease(bus, owner, 1, now, now + ttl)
        if await insert_if_absent(
            self._conn,
            t,
            {
                "bus": bus,
                "owner": owner,
                "token": fresh.token,
                "acquired_at": now,
                "expires_at": fresh.expires_at,
            },
        ):
            return fresh
        taken = await self._conn.execute(
            update(t)
            .where(t.c.bus == bus, t.c.expires_at <= now)
            .values(owner=owner, token=t.c.token + 1, acquired_at=now, expires_at=now + ttl)
        )
        if not taken.rowcount:
            return None
        return await self.get(bus)

    async def renew(self, lease: BusLease, *, now: datetime, ttl: timedelta) -> BusLease | None:
        """The lease extended to now + ttl, or None if it expired or was taken over."""
        renewed = await self._conn.execute(
            update(t)
            .where(
                t.c.bus == lease.bus,
                t.c.owner == lease.owner,
                t.c.token == lease.token,
                t.c.expires_at > now,
            )
            .values(expires_at=now + ttl)
        )
        if not renewed.rowcount:
            return None
        return BusLease(lease.bus, lease.owner, lease.token, lease.acquired_at, now + ttl)

    async def release(self, lease: BusLease, *, now: datetime) -> bool:
        """End the lease at once (another instance may take over); False if no longer held."""
        released = await self._conn.execute(
            update(t)
            .where(
                t.c.bus == lease.bus,
                t.c.owner == lease.owner,
                t.c.token == lease.token,
                t.c.expires_at > now,
            )
            .values(expires_at=now)
        )
        return bool(released.rowcount)


def _lease(row: RowMapping) -> BusLease:
    return BusLease(
        bus=row["bus"],
        owner=row["owner"],
        token=int(row["token"]),
        acquired_at=row["acquired_at"],
        expires_at=row["expires_at"],
    )
