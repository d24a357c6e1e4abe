"""Network-wide secrets, created once and shared by every gateway instance.

Values are stored sealed under the KEK named by `kek_id` (gateway/tokens/sealing.py seals and
opens them; this module stores what it is given). `kek_id` None: a value from before
migration 0012, in clear until the gateway seals it.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

from sqlalchemy import select, update

from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import gateway_secrets as t


@dataclass(frozen=True, slots=True)
class SecretRecord:
    """One secret as stored."""

    name: str
    value: str = field(repr=False)
    kek_id: str | None


class SecretRepository(Repository):
    async def get(self, name: str) -> SecretRecord | None:
        stmt = select(t.c.name, t.c.value, t.c.kek_id).where(t.c.name == name)
        row = (await self._conn.execute(stmt)).first()
        return None if row is None else SecretRecord(row[0], row[1], row[2])

    async def add(self, name: str, value: str, kek_id: str) -> bool:
        """Store a sealed secret unless `name` exists; True if this call wrote it."""
        values = {"name": name, "value": value, "kek_id": kek_id, "created_at": self._clock()}
        return await insert_if_absent(self._conn, t, values)

    async def all(self) -> builtins.list[SecretRecord]:
        stmt = select(t.c.name, t.c.value, t.c.kek_id).order_by(t.c.name)
        return [SecretRecord(r[0], r[1], r[2]) for r in await self._conn.execute(stmt)]

    async def reseal(self, name: str, value: str, kek_id: str) -> None:
        """Replace a secret by the same secret sealed anew (custody)."""
        stmt = update(t).where(t.c.name == name).values(value=value, kek_id=kek_id)
        await self._conn.execute(stmt)
