"""Issued access grants: what each token binds (never the token), and its single use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, delete, select, update

from gateway.domain.door import OpenPurpose
from gateway.errors import AlreadyExists
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import grants as t


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """One issued grant; `redeemed_at` is set when a locker reports the door it opened."""

    jti: str
    parcel_uid: str
    locker_id: str
    compartment_code: str
    action: OpenPurpose
    kid: str
    not_before: datetime
    expires_at: datetime
    issued_at: datetime
    redeemed_at: datetime | None = None


class GrantRepository(Repository):
    async def add(self, grant: GrantRecord) -> None:
        """Record an issued grant; a jti is random, so a duplicate is a bug, not a race."""
        values = {
            "jti": grant.jti,
            "parcel_uid": grant.parcel_uid,
            "locker_id": grant.locker_id,
            "compartment_code": grant.compartment_code,
            "action": grant.action.value,
            "kid": grant.kid,
            "not_before": grant.not_before,
            "expires_at": grant.expires_at,
            "issued_at": grant.issued_at,
            "redeemed_at": grant.redeemed_at,
        }
        if not await insert_if_absent(self._conn, t, values):
            raise AlreadyExists(f"grant {grant.jti} exists already", details={"jti": grant.jti})

    async def get(self, jti: str) -> GrantRecord | None:
        row = (await self._conn.execute(select(t).where(t.c.jti == jti))).mappings().first()
        return None if row is None else _record(row)

    async def redeem(self, jti: str, at: datetime) -> bool:
        """Mark the grant used; True only the first time (one conditional UPDATE, so two
        lockers or two instances reporting the same grant cannot both win)."""
        stmt = update(t).where(t.c.jti == jti, t.c.redeemed_at.is_(None)).values(redeemed_at=at)
        return (await self._conn.execute(stmt)).rowcount == 1

    async def for_parcel(self, parcel_uid: str) -> list[GrantRecord]:
        """A parcel's grants, oldest first."""
        stmt = select(t).where(t.c.parcel_uid == parcel_uid).order_by(t.c.issued_at, t.c.jti)
        return [_record(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def purge(self, before: datetime) -> int:
        """Drop grants that expired before `before`; returns how many.

        Pass `now` minus the verifier's leeway: a grant a locker may still accept must still
        be found when the locker reports it.
        """
        return (await self._conn.execute(delete(t).where(t.c.expires_at < before))).rowcount


def _record(row: RowMapping) -> GrantRecord:
    return GrantRecord(
        jti=row["jti"],
        parcel_uid=row["parcel_uid"],
        locker_id=row["locker_id"],
        compartment_code=row["compartment_code"],
        action=OpenPurpose(row["action"]),
        kid=row["kid"],
        not_before=row["not_before"],
        expires_at=row["expires_at"],
        issued_at=row["issued_at"],
        redeemed_at=row["redeemed_at"],
    )
