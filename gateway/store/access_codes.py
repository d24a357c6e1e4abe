"""Keypad codes: only their keyed hashes are stored; each opens one locker, once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from gateway.domain.door import OpenPurpose
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import access_codes as t


@dataclass(frozen=True, slots=True)
class AccessCode:
    id: int
    locker_id: str
    parcel_uid: str
    purpose: OpenPurpose
    expires_at: datetime


class AccessCodeRepository(Repository):
    async def add(
        self,
        *,
        locker_id: str,
        parcel_uid: str,
        purpose: OpenPurpose,
        code_hash: str,
        expires_at: datetime,
    ) -> bool:
        """Store a new code; False if the same hash exists at this locker (pick another)."""
        values = {
            "locker_id": locker_id,
            "parcel_uid": parcel_uid,
            "purpose": purpose.value,
            "code_hash": code_hash,
            "created_at": self._clock(),
            "expires_at": expires_at,
        }
        return await insert_if_absent(self._conn, t, values)

    async def revoke(self, parcel_uid: str, purpose: OpenPurpose | None = None) -> None:
        """Retire a parcel's unused codes (a new code replaces the old one)."""
        now = self._clock()
        stmt = update(t).where(t.c.parcel_uid == parcel_uid, t.c.used_at.is_(None))
        if purpose is not None:
            stmt = stmt.where(t.c.purpose == purpose.value)
        await self._conn.execute(stmt.values(used_at=now))

    async def redeem(self, locker_id: str, code_hash: str, now: datetime) -> AccessCode | None:
        """Use a code: the matching unused, unexpired code of this locker, marked used in the
        same statement so two entries of one code cannot both succeed."""
        stmt = (
            update(t)
            .where(
                t.c.locker_id == locker_id,
                t.c.code_hash == code_hash,
                t.c.used_at.is_(None),
                t.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(t.c.id, t.c.locker_id, t.c.parcel_uid, t.c.purpose, t.c.expires_at)
        )
        row = (await self._conn.execute(stmt)).mappings().first()
        if row is None:
            return None
        return AccessCode(
            id=int(row["id"]),
            locker_id=row["locker_id"],
            parcel_uid=row["parcel_uid"],
            purpose=OpenPurpose(row["purpose"]),
            expires_at=row["expires_at"],
        )

    async def restore(self, code_id: int) -> None:
        """Give a redeemed code back when the door it should open did not open, unless a newer
        code for the same subject and opening was issued meanwhile: a replacement retires only
        unused codes, so reviving this one would leave two working (fail safe: the newer one
        stays the code)."""
        newer = t.alias("newer")
        replaced = (
            select(newer.c.id)
            .where(
                newer.c.parcel_uid == t.c.parcel_uid,
                newer.c.purpose == t.c.purpose,
                newer.c.id > t.c.id,
            )
            .exists()
        )
        stmt = update(t).where(t.c.id == code_id, ~replaced).values(used_at=None)
        await self._conn.execute(stmt)

    async def active_count(self, parcel_uid: str, now: datetime) -> int:
        stmt = select(t.c.id).where(
            t.c.parcel_uid == parcel_uid, t.c.used_at.is_(None), t.c.expires_at > now
        )
        return len((await self._conn.execute(stmt)).all())
