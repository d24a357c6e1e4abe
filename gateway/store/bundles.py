"""Bundles and their members: which parcels one code opens together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, insert, select, update

from gateway.domain.bundles import Bundle
from gateway.domain.parcel import Parcel
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import bundle_parcels as m
from gateway.store.tables import bundles as t


@dataclass(frozen=True, slots=True)
class BundleRecord:
    uid: str
    carrier_id: str
    bundle_id: str
    locker_id: str
    reference: str | None
    created_at: datetime
    parcel_uids: tuple[str, ...]  # in the booking's order

    def with_parcels(self, parcels: Sequence[Parcel]) -> Bundle:
        """The bundle as read: this record with its parcels as they are now."""
        return Bundle(
            uid=self.uid,
            carrier_id=self.carrier_id,
            bundle_id=self.bundle_id,
            locker_id=self.locker_id,
            created_at=self.created_at,
            parcels=tuple(parcels),
            reference=self.reference,
        )


class BundleRepository(Repository):
    async def insert(self, record: BundleRecord) -> bool:
        """Store a new bundle and its members; False if the carrier has this bundle id."""
        stored = await insert_if_absent(
            self._conn,
            t,
            {
                "uid": record.uid,
                "carrier_id": record.carrier_id,
                "bundle_id": record.bundle_id,
                "locker_id": record.locker_id,
                "reference": record.reference,
                "created_at": record.created_at,
                "event_seq": 0,
            },
        )
        if not stored:
            return False
        await self._conn.execute(
            insert(m),
            [
                {"bundle_uid": record.uid, "position": i, "parcel_uid": uid}
                for i, uid in enumerate(record.parcel_uids)
            ],
        )
        return True

    async def get(self, carrier_id: str, bundle_id: str) -> BundleRecord | None:
        stmt = select(t).where(t.c.carrier_id == carrier_id, t.c.bundle_id == bundle_id)
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else await self._record(row)

    async def get_by_uid(self, uid: str) -> BundleRecord | None:
        row = (await self._conn.execute(select(t).where(t.c.uid == uid))).mappings().first()
        return None if row is None else await self._record(row)

    async def of_parcel(self, parcel_uid: str) -> BundleRecord | None:
        """The bundle a parcel belongs to, if any (one indexed lookup)."""
        stmt = select(m.c.bundle_uid).where(m.c.parcel_uid == parcel_uid)
        bundle_uid = (await self._conn.execute(stmt)).scalar_one_or_none()
        return None if bundle_uid is None else await self.get_by_uid(bundle_uid)

    async def lock(self, uid: str) -> None:
        """Row-lock the bundle until the transaction ends (PostgreSQL; SQLite transactions are
        serialised anyway): the pickups of two of its parcels then read each other's outcome
        one after the other, so the last one sees every parcel taken."""
        if self._postgres:
            await self._conn.execute(select(t.c.uid).where(t.c.uid == uid).with_for_update())

    async def next_event_seq(self, uid: str) -> int:
        """The number of the bundle's next webhook event (1, 2, ...). The UPDATE takes the
        row's write lock first, so two transactions never hand out one number twice."""
        await self._conn.execute(
            update(t).where(t.c.uid == uid).values(event_seq=t.c.event_seq + 1)
        )
        stmt = select(t.c.event_seq).where(t.c.uid == uid)
        return int((await self._conn.execute(stmt)).scalar_one())

    async def _record(self, row: RowMapping) -> BundleRecord:
        stmt = select(m.c.parcel_uid).where(m.c.bundle_uid == row["uid"]).order_by(m.c.position)
        members: Sequence[str] = (await self._conn.execute(stmt)).scalars().all()
        return BundleRecord(
            uid=row["uid"],
            carrier_id=row["carrier_id"],
            bundle_id=row["bundle_id"],
            locker_id=row["locker_id"],
            reference=row["reference"],
            created_at=row["created_at"],
            parcel_uids=tuple(members),
        )
