"""Network-wide secrets, created once and shared by every gateway instance."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import gateway_secrets as t


class SecretRepository(Repository):
    async def get_or_create(self, name: str, make: Callable[[], str]) -> str:
        """The secret `name`; the first caller's value wins if instances race to create it."""
        await insert_if_absent(
            self._conn, t, {"name": name, "value": make(), "created_at": self._clock()}
        )
        row = (await self._conn.execute(select(t.c.value).where(t.c.name == name))).first()
        assert row is not None  # just inserted or already there
        return str(row[0])
