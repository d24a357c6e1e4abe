"""Door sessions: the unlocks the gateway ordered and how they ended."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, insert, select, update

from gateway.domain.door import DoorSession, DoorSessionState, OpenOutcome, OpenPurpose
from gateway.domain.enums import ItemSensor, ParcelState
from gateway.store._sql import Repository
from gateway.store.tables import door_sessions as t
from gateway.store.tables import parcels

LIVE = (DoorSessionState.REQUESTED.value, DoorSessionState.OPEN.value)
# The state of a session's parcel, read by the UPDATE that records the unlock's answer.
_PARCEL_STATE = select(parcels.c.state).where(parcels.c.uid == t.c.parcel_uid).scalar_subquery()


@dataclass(frozen=True, slots=True)
class UnlockRecorded:
    """An unlock's answer was recorded; `parcel_state` is the session's parcel's as this
    transaction sees it (None: a session without a parcel)."""

    parcel_state: ParcelState | None


class DoorSessionRepository(Repository):
    async def start(
        self,
        *,
        locker_id: str,
        compartment_code: str,
        parcel_uid: str | None,
        purpose: OpenPurpose,
        deadline: datetime,
    ) -> DoorSession:
        now = self._clock()
        values = {
            "locker_id": locker_id,
            "compartment_code": compartment_code,
            "parcel_uid": parcel_uid,
            "purpose": purpose.value,
            "state": DoorSessionState.REQUESTED.value,
            "requested_at": now,
            "deadline": deadline,
        }
        result = await self._conn.execute(insert(t).values(values).returning(t.c.id))
        return DoorSession(
            id=int(result.scalar_one()),
            locker_id=locker_id,
            compartment_code=compartment_code,
            parcel_uid=parcel_uid,
            purpose=purpose,
            state=DoorSessionState.REQUESTED,
            requested_at=now,
            deadline=deadline,
        )

    async def live(self, locker_id: str, compartment_code: str) -> DoorSession | None:
        """The latest session of this door that has not closed or failed yet."""
        stmt = (
            select(t)
            .where(
                t.c.locker_id == locker_id,
                t.c.compartment_code == compartment_code,
                t.c.state.in_(LIVE),
            )
            .order_by(t.c.id.desc())
            .limit(1)
        )
        if self._postgres:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _session(row)

    async def all_live(self, limit: int = 1000) -> list[DoorSession]:
        """Every session not closed or failed yet, oldest first (the recovery pass: a crash
        leaves them in flight; a running gateway has few)."""
        stmt = select(t).where(t.c.state.in_(LIVE)).order_by(t.c.id).limit(limit)
        return [_session(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def latest(self, locker_id: str, compartment_code: str) -> DoorSession | None:
        """The most recent session of this door, whatever its state."""
        stmt = (
            select(t)
            .where(t.c.locker_id == locker_id, t.c.compartment_code == compartment_code)
            .order_by(t.c.id.desc())
            .limit(1)
        )
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _session(row)

    async def get(self, session_id: int, *, for_update: bool = False) -> DoorSession | None:
        """The session; `for_update` locks its row (PostgreSQL) until the transaction ends, so
        a decision taken on its state cannot race the locker's event that changes it."""
        stmt = select(t).where(t.c.id == session_id)
        if for_update and self._postgres:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _session(row)

    async def opened(self, session_id: int, outcome: OpenOutcome | None, at: datetime) -> None:
        """Requested -> open. Conditional: the door may already have been reported opened, or
        even closed, before the unlock's reply was processed."""
        values: dict[str, object] = {"state": DoorSessionState.OPEN.value, "opened_at": at}
        if outcome is not None:
            values["outcome"] = outcome.value
        requested = t.c.state == DoorSessionState.REQUESTED.value
        await self._conn.execute(update(t).where(t.c.id == session_id, requested).values(values))

    async def record_answer(
        self, session_id: int, outcome: OpenOutcome, at: datetime
    ) -> UnlockRecorded | None:
        """The locker's answer to an unlock: `opened` for an unlocked or already open door,
        else `failed`, each as conditional as those; the parcel's state comes back in the same
        statement (RETURNING) rather than from a read of its own. None when the session had
        moved on (the door's own event got there first): nothing written, nothing read."""
        if outcome in (OpenOutcome.UNLOCKED, OpenOutcome.ALREADY_OPEN):
            stmt = (
                update(t)
                .where(t.c.id == session_id, t.c.state == DoorSessionState.REQUESTED.value)
                .values(state=DoorSessionState.OPEN.value, outcome=outcome.value, opened_at=at)
            )
        else:
            stmt = (
                update(t)
                .where(t.c.id == session_id, t.c.state.in_(LIVE))
                .values(state=DoorSessionState.FAILED.value, outcome=outcome.value, closed_at=at)
            )
        row = (await self._conn.execute(stmt.returning(_PARCEL_STATE))).first()
        return None if row is None else UnlockRecorded(row[0])

    async def closed(self, session_id: int, item: ItemSensor, at: datetime) -> None:
        await self._conn.execute(
            update(t)
            .where(t.c.id == session_id)
            .values(state=DoorSessionState.CLOSED.value, item_sensor=item, closed_at=at)
        )

    async def failed(self, session_id: int, outcome: OpenOutcome | None, at: datetime) -> None:
        await self._conn.execute(
            update(t)
            .where(t.c.id == session_id, t.c.state.in_(LIVE))
            .values(
                state=DoorSessionState.FAILED.value,
                outcome=outcome.value if outcome else None,
                closed_at=at,
            )
        )


def _session(row: RowMapping) -> DoorSession:
    return DoorSession(
        id=int(row["id"]),
        locker_id=row["locker_id"],
        compartment_code=row["compartment_code"],
        parcel_uid=row["parcel_uid"],
        purpose=OpenPurpose(row["purpose"]),
        state=DoorSessionState(row["state"]),
        requested_at=row["requested_at"],
        deadline=row["deadline"],
        outcome=OpenOutcome(row["outcome"]) if row["outcome"] else None,
        item=row["item_sensor"],
        opened_at=row["opened_at"],
        closed_at=row["closed_at"],
    )
