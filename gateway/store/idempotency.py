"""Stored first answers for Idempotency-Key replays."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from gateway.store._sql import Repository, insert_if_absent
from gateway.store.errors import IdempotencyRace
from gateway.store.records import IdempotencyRecord
from gateway.store.tables import idempotency_keys as t

# Built once: every carrier POST reads its key, and a door action fills in its answer.
_GET = select(t).where(
    t.c.carrier_id == bindparam("carrier_id", type_=t.c.carrier_id.type),
    t.c.key == bindparam("key", type_=t.c.key.type),
)
_GET_FOR_UPDATE = _GET.with_for_update()
_REPLACE = (
    update(t)
    .where(
        # An UPDATE's bind names must differ from its columns' names (SQLAlchemy's rule).
        t.c.carrier_id == bindparam("b_carrier_id", type_=t.c.carrier_id.type),
        t.c.key == bindparam("b_key", type_=t.c.key.type),
    )
    .values(response=bindparam("answer", type_=t.c.response.type))
)


class IdempotencyRepository(Repository):
    async def get(
        self, carrier_id: str, key: str, *, for_update: bool = False
    ) -> IdempotencyRecord | None:
        """The stored record; `for_update` locks its row (PostgreSQL) until the transaction
        ends, so that two requests deciding what to do with a claimed key take turns."""
        stmt = _GET_FOR_UPDATE if for_update and self._postgres else _GET
        params = {"carrier_id": carrier_id, "key": key}
        row = (await self._conn.execute(stmt, params)).mappings().first()
        if row is None:
            return None
        return IdempotencyRecord(
            carrier_id=row["carrier_id"],
            key=row["key"],
            fingerprint=row["fingerprint"],
            response=row["response"],
            created_at=row["created_at"],
        )

    async def put(
        self, carrier_id: str, key: str, fingerprint: str, response: dict[str, Any]
    ) -> IdempotencyRecord:
        """Remember the answer; IdempotencyRace if a concurrent request stored one first.

        The transaction stays usable after the race, so the caller can `get` the winner.
        """
        record = IdempotencyRecord(carrier_id, key, fingerprint, response, self._clock())
        values = {
            "carrier_id": carrier_id,
            "key": key,
            "fingerprint": fingerprint,
            "response": response,
            "created_at": record.created_at,
        }
        if not await insert_if_absent(self._conn, t, values):
            raise IdempotencyRace(
                f"Idempotency-Key {key} of carrier {carrier_id} was used concurrently",
                details={"carrierId": carrier_id, "key": key},
            )
        return record

    async def replace(self, carrier_id: str, key: str, response: dict[str, Any]) -> None:
        """Fill in the answer of a key claimed earlier (a physical action finished)."""
        params = {"b_carrier_id": carrier_id, "b_key": key, "answer": response}
        await self._conn.execute(_REPLACE, params)

    async def release(self, carrier_id: str, key: str) -> None:
        """Give a claimed key back: the action failed before it could act, so a retry may."""
        await self._conn.execute(delete(t).where(t.c.carrier_id == carrier_id, t.c.key == key))

    async def purge(self, older_than: datetime) -> int:
        """Forget answers stored before `older_than`; returns how many."""
        result = await self._conn.execute(delete(t).where(t.c.created_at < older_than))
        return result.rowcount
