"""The network's signing keys and root key: public JWK and sealed private key, shared by every
gateway instance. Sealing and opening is the caller's (gateway/tokens/sealing.py): this module
stores what it is given, and never sees a key in clear once custody is in place."""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, case, select, text, update

from gateway.errors import AlreadyExists
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import network_key_set as ks
from gateway.store.tables import network_keys as t
from gateway.store.tables import network_root_keys as rk

# Any constant shared by every instance: the advisory lock that serialises key changes.
_KEY_LOCK_ID = 0x4F4C505F4E4B4559  # "OLP_NKEY"
_KEY_SET_ROW = 1


@dataclass(frozen=True, slots=True)
class NetworkKeyRecord:
    """One signing key: published from `created_at`, signing from `activates_at`, verifying
    until `retired_at`."""

    kid: str
    alg: str
    public_jwk: dict[str, Any]
    # As stored: sealed (base64url ciphertext) under `kek_id`, or a PEM in clear when
    # `kek_id` is None (rows from before migration 0012, and keys in memory once opened).
    private_key_pem: str = field(repr=False)
    created_at: datetime
    activates_at: datetime
    retired_at: datetime | None = None
    kek_id: str | None = None


@dataclass(frozen=True, slots=True)
class RootKeyRecord:
    """The network's root key: signs key sets; `endorsement` is the previous root's signature
    over it (None for the first root). `private_key` is sealed under `kek_id`."""

    kid: str
    public_jwk: dict[str, Any]
    private_key: str = field(repr=False)
    kek_id: str
    created_at: datetime
    endorsement: str | None = None
    retired_at: datetime | None = None


class NetworkKeyRepository(Repository):
    async def lock(self) -> None:
        """Serialise key creation, rotation and retirement across instances, until commit."""
        if self._postgres:
            await self._conn.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _KEY_LOCK_ID}
            )
        # SQLite needs nothing: every transaction begins IMMEDIATE, holding the write lock.

    async def active(self) -> builtins.list[NetworkKeyRecord]:
        """Keys not retired, newest first."""
        stmt = (
            select(t)
            .where(t.c.retired_at.is_(None))
            .order_by(t.c.activates_at.desc(), t.c.created_at.desc(), t.c.kid)
        )
        return [_record(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def all(self) -> builtins.list[NetworkKeyRecord]:
        """Every key, retired ones included, oldest first."""
        stmt = select(t).order_by(t.c.created_at, t.c.kid)
        return [_record(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def get(self, kid: str) -> NetworkKeyRecord | None:
        row = (await self._conn.execute(select(t).where(t.c.kid == kid))).mappings().first()
        return None if row is None else _record(row)

    async def add(self, key: NetworkKeyRecord) -> None:
        values = {
            "kid": key.kid,
            "alg": key.alg,
            "public_jwk": key.public_jwk,
            "private_key_pem": key.private_key_pem,
            "created_at": key.created_at,
            "activates_at": key.activates_at,
            "retired_at": key.retired_at,
            "kek_id": key.kek_id,
        }
        if not await insert_if_absent(self._conn, t, values):
            raise AlreadyExists(f"network key {key.kid} exists already", details={"kid": key.kid})

    async def retire(self, kid: str, at: datetime) -> bool:
        """Retire a key; False if there is no such key or it is retired already."""
        stmt = update(t).where(t.c.kid == kid, t.c.retired_at.is_(None)).values(retired_at=at)
        return (await self._conn.execute(stmt)).rowcount == 1

    async def reseal(self, kid: str, private_key: str, kek_id: str) -> None:
        """Replace a key's stored private key by the same key sealed anew (custody)."""
        stmt = update(t).where(t.c.kid == kid).values(private_key_pem=private_key, kek_id=kek_id)
        await self._conn.execute(stmt)

    async def roots(self) -> builtins.list[RootKeyRecord]:
        """Every root key, retired ones included, oldest first (the endorsement chain)."""
        stmt = select(rk).order_by(rk.c.created_at, rk.c.kid)
        return [_root(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def add_root(self, key: RootKeyRecord) -> None:
        values = {
            "kid": key.kid,
            "public_jwk": key.public_jwk,
            "private_key": key.private_key,
            "kek_id": key.kek_id,
            "endorsement": key.endorsement,
            "created_at": key.created_at,
            "retired_at": key.retired_at,
        }
        if not await insert_if_absent(self._conn, rk, values):
            raise AlreadyExists(f"root key {key.kid} exists already", details={"kid": key.kid})

    async def retire_root(self, kid: str, at: datetime) -> None:
        stmt = update(rk).where(rk.c.kid == kid, rk.c.retired_at.is_(None)).values(retired_at=at)
        await self._conn.execute(stmt)

    async def reseal_root(self, kid: str, private_key: str, kek_id: str) -> None:
        stmt = update(rk).where(rk.c.kid == kid).values(private_key=private_key, kek_id=kek_id)
        await self._conn.execute(stmt)

    async def version(self) -> int:
        """The key-set version every instance agrees on (0 before the first key)."""
        stmt = select(ks.c.version).where(ks.c.id == _KEY_SET_ROW)
        value = (await self._conn.execute(stmt)).scalar()
        return 0 if value is None else int(value)

    async def bump_version(self, at_least: int = 0) -> int:
        """Increase the key-set version by one (to `at_least` if that is higher), atomically;
        returns the new version."""
        now = self._clock()
        await insert_if_absent(
            self._conn, ks, {"id": _KEY_SET_ROW, "version": 0, "updated_at": now}
        )
        stmt = (
            update(ks)
            .where(ks.c.id == _KEY_SET_ROW)
            .values(
                version=case((ks.c.version + 1 < at_least, at_least), else_=ks.c.version + 1),
                updated_at=now,
            )
            .returning(ks.c.version)
        )
        return int((await self._conn.execute(stmt)).scalar_one())


def _record(row: RowMapping) -> NetworkKeyRecord:
    return NetworkKeyRecord(
        kid=row["kid"],
        alg=row["alg"],
        public_jwk=row["public_jwk"],
        private_key_pem=row["private_key_pem"],
        created_at=row["created_at"],
        activates_at=row["activates_at"],
        retired_at=row["retired_at"],
        kek_id=row["kek_id"],
    )


def _root(row: RowMapping) -> RootKeyRecord:
    return RootKeyRecord(
        kid=row["kid"],
        public_jwk=row["public_jwk"],
        private_key=row["private_key"],
        kek_id=row["kek_id"],
        created_at=row["created_at"],
        endorsement=row["endorsement"],
        retired_at=row["retired_at"],
    )
