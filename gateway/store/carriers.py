"""Carriers and their public keys."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import RowMapping, select, update

from gateway.errors import AlreadyExists, NotFound
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.records import CarrierRecord
from gateway.store.tables import carriers as t


class CarrierRepository(Repository):
    async def add(self, carrier: CarrierRecord) -> None:
        values = {
            "id": carrier.id,
            "name": carrier.name,
            "jwks": carrier.jwks,
            "created_at": carrier.created_at,
        }
        if not await insert_if_absent(self._conn, t, values):
            raise AlreadyExists(f"carrier {carrier.id} exists already", details={"id": carrier.id})

    async def get(self, carrier_id: str) -> CarrierRecord | None:
        row = (await self._conn.execute(select(t).where(t.c.id == carrier_id))).mappings().first()
        return None if row is None else _record(row)

    async def list(self) -> builtins.list[CarrierRecord]:
        rows = (await self._conn.execute(select(t).order_by(t.c.id))).mappings()
        return [_record(row) for row in rows]

    async def set_jwks(self, carrier_id: str, jwks: dict[str, Any]) -> None:
        result = await self._conn.execute(update(t).where(t.c.id == carrier_id).values(jwks=jwks))
        if result.rowcount != 1:
            raise NotFound(f"no carrier {carrier_id}", details={"id": carrier_id})


def _record(row: RowMapping) -> CarrierRecord:
    return CarrierRecord(
        id=row["id"], name=row["name"], jwks=row["jwks"], created_at=row["created_at"]
    )
