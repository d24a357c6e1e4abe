"""The network's signing keys: public JWK and private PEM, shared by every gateway instance."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, select, text

from gateway.errors import AlreadyExists
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import network_keys as t

# Any constant shared by every instance: the advisory lock that serialises key creation.
_KEY_LOCK_ID = 0x4F4C505F4E4B4559  # "OLP_NKEY"


@dataclass(frozen=True, slots=True)
class NetworkKeyRecord:
    """One signing key; `retired_at` is None while the key is in use."""

    kid: str
    alg: str
    public_jwk: dict[str, Any]
    private_key_pem: str
    created_at: datetime
    retired_at: datetime | None = None


class NetworkKeyRepository(Repository):
    async def lock(self) -> None:
        """Serialise "create a key unless there is one" across instances, until commit."""
        if self._postgres:
            await self._conn.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _KEY_LOCK_ID}
            )
        # SQLite needs nothing: every transaction begins IMMEDIATE, holding the write lock.

    async def active(self) -> builtins.list[NetworkKeyRecord]:
        """Keys not retired, newest first (the first one signs)."""
        stmt = select(t).where(t.c.retired_at.is_(None)).order_by(t.c.created_at.desc(), t.c.kid)
        return [_record(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def add(self, key: NetworkKeyRecord) -> None:
        values = {
            "kid": key.kid,
            "alg": key.alg,
            "public_jwk": key.public_jwk,
            "private_key_pem": key.private_key_pem,
            "created_at": key.created_at,
            "retired_at": key.retired_at,
        }
        if not await insert_if_absent(self._conn, t, values):
            raise AlreadyExists(f"network key {key.kid} exists already", details={"kid": key.kid})


def _record(row: RowMapping) -> NetworkKeyRecord:
    return NetworkKeyRecord(
        kid=row["kid"],
        alg=row["alg"],
        public_jwk=row["public_jwk"],
        private_key_pem=row["private_key_pem"],
        created_at=row["created_at"],
        retired_at=row["retired_at"],
    )
