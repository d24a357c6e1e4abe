"""Operators, their sessions, personal API tokens and login attempt counters."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import RowMapping, delete, select, update

from gateway.domain import one_time_passwords
from gateway.domain.operators import LoginCounter, Operator, Role
from gateway.errors import AlreadyExists
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import login_attempts as la
from gateway.store.tables import operator_sessions as s
from gateway.store.tables import operator_tokens as tk
from gateway.store.tables import operators as t


@dataclass(frozen=True, slots=True)
class OperatorRecord:
    operator: Operator
    password_hash: str


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id_hash: str
    operator_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    operator_id: str
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class OperatorRepository(Repository):
    # ---- operators ----------------------------------------------------------------------

    async def add(self, operator: Operator, password_hash: str) -> None:
        values = {
            "id": operator.id,
            "name": operator.name,
            "role": operator.role,
            "password_hash": password_hash,
            "created_at": operator.created_at,
            "updated_at": operator.created_at,
            "disabled_at": None,
        }
        if not await insert_if_absent(self._conn, t, values):
            raise AlreadyExists(
                f"operator {operator.id} exists already", details={"id": operator.id}
            )

    async def get(self, operator_id: str, *, for_update: bool = False) -> OperatorRecord | None:
        """`for_update`: row-locked until commit on PostgreSQL, so a concurrent reset or
        disable either waits for this transaction or is seen by it (SQLite: serialised)."""
        stmt = select(t).where(t.c.id == operator_id)
        if for_update and self._postgres:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else OperatorRecord(_operator(row), row["password_hash"])

    async def list(self) -> builtins.list[Operator]:
        rows = (await self._conn.execute(select(t).order_by(t.c.id))).mappings()
        return [_operator(row) for row in rows]

    async def active_admins(self) -> builtins.list[str]:
        """The ids of the enabled admins, row-locked until commit on PostgreSQL (SQLite:
        serialised): two admins demoting each other at once cannot both see the other stay."""
        stmt = select(t.c.id).where(t.c.role == Role.ADMIN, t.c.disabled_at.is_(None))
        if self._postgres:
            stmt = stmt.order_by(t.c.id).with_for_update()
        return [str(row) for row in (await self._conn.execute(stmt)).scalars()]

    async def set_password(self, operator_id: str, password_hash: str, now: datetime) -> bool:
        stmt = (
            update(t)
            .where(t.c.id == operator_id)
            .values(password_hash=password_hash, updated_at=now)
        )
        return (await self._conn.execute(stmt)).rowcount == 1

    async def rehash_password(self, operator_id: str, old_hash: str, new_hash: str) -> bool:
        """The same password at another argon2 cost: not a change (`updated_at` stays, no
        session ends); only if the hash is still the one verified."""
        stmt = (
            update(t)
            .where(t.c.id == operator_id, t.c.password_hash == old_hash)
            .values(password_hash=new_hash)
        )
        return (await self._conn.execute(stmt)).rowcount == 1

    async def set_role(self, operator_id: str, role: Role, now: datetime) -> bool:
        stmt = update(t).where(t.c.id == operator_id).values(role=role, updated_at=now)
        return (await self._conn.execute(stmt)).rowcount == 1

    async def set_disabled(self, operator_id: str, at: datetime | None, now: datetime) -> bool:
        stmt = update(t).where(t.c.id == operator_id).values(disabled_at=at, updated_at=now)
        return (await self._conn.execute(stmt)).rowcount == 1

    # ---- sessions -----------------------------------------------------------------------

    async def add_session(self, record: SessionRecord, client: str | None) -> None:
        await self._conn.execute(
            s.insert().values(
                id_hash=record.id_hash,
                operator_id=record.operator_id,
                created_at=record.created_at,
                last_seen_at=record.last_seen_at,
                expires_at=record.expires_at,
                client=client,
            )
        )

    async def session(self, id_hash: str) -> SessionRecord | None:
        row = (await self._conn.execute(select(s).where(s.c.id_hash == id_hash))).mappings().first()
        if row is None:
            return None
        return SessionRecord(
            id_hash=row["id_hash"],
            operator_id=row["operator_id"],
            created_at=row["created_at"],
            last_seen_at=row["last_seen_at"],
            expires_at=row["expires_at"],
        )

    async def touch_session(
        self, id_hash: str, last_seen_at: datetime, expires_at: datetime
    ) -> None:
        await self._conn.execute(
            update(s)
            .where(s.c.id_hash == id_hash)
            .values(last_seen_at=last_seen_at, expires_at=expires_at)
        )

    async def end_session(self, id_hash: str) -> bool:
        return (await self._conn.execute(delete(s).where(s.c.id_hash == id_hash))).rowcount == 1

    async def end_sessions_of(self, operator_id: str, *, keep: str | None = None) -> int:
        """End every session of the operator but the one whose id hash is `keep` (the session
        that changed its own password carries on)."""
        stmt = delete(s).where(s.c.operator_id == operator_id)
        if keep is not None:
            stmt = stmt.where(s.c.id_hash != keep)
        return int((await self._conn.execute(stmt)).rowcount)

    async def purge_sessions(self, now: datetime, *, limit: int) -> int:
        """Delete up to `limit` sessions expired by `now` (one batch: the caller repeats in
        short transactions, so a backlog never holds the write lock for long)."""
        expired = s.c.expires_at <= now
        batch = select(s.c.id_hash).where(expired).order_by(s.c.expires_at).limit(limit)
        # The expiry again on the row deleted: a session used meanwhile moved its own.
        stmt = delete(s).where(s.c.id_hash.in_(batch), expired)
        return int((await self._conn.execute(stmt)).rowcount)

    # ---- personal API tokens ------------------------------------------------------------

    async def add_token(self, record: TokenRecord, token_hash: str) -> None:
        await self._conn.execute(
            tk.insert().values(
                id=record.id,
                operator_id=record.operator_id,
                name=record.name,
                role=record.role,
                token_hash=token_hash,
                created_at=record.created_at,
                expires_at=record.expires_at,
                revoked_at=None,
                last_used_at=None,
            )
        )

    async def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        stmt = select(tk).where(tk.c.token_hash == token_hash)
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _token(row)

    async def token(self, token_id: str) -> TokenRecord | None:
        row = (await self._conn.execute(select(tk).where(tk.c.id == token_id))).mappings().first()
        return None if row is None else _token(row)

    async def tokens_of(self, operator_id: str) -> builtins.list[TokenRecord]:
        stmt = select(tk).where(tk.c.operator_id == operator_id).order_by(tk.c.created_at, tk.c.id)
        return [_token(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def token_used(self, token_id: str, now: datetime) -> None:
        await self._conn.execute(update(tk).where(tk.c.id == token_id).values(last_used_at=now))

    async def revoke_token(self, token_id: str, now: datetime) -> bool:
        stmt = (
            update(tk).where(tk.c.id == token_id, tk.c.revoked_at.is_(None)).values(revoked_at=now)
        )
        return (await self._conn.execute(stmt)).rowcount == 1

    async def revoke_tokens_of(self, operator_id: str, now: datetime) -> int:
        stmt = (
            update(tk)
            .where(tk.c.operator_id == operator_id, tk.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int((await self._conn.execute(stmt)).rowcount)

    # ---- login attempts -----------------------------------------------------------------

    async def claim_counter(self, key: str) -> LoginCounter:
        """The key's counter, row-locked until commit on PostgreSQL (SQLite: the transaction
        holds the write lock), so that concurrent attempts on two instances count one by one."""
        await insert_if_absent(
            self._conn,
            la,
            {"key": key, "failures": 0, "lockouts": 0, "updated_at": self._clock()},
        )
        stmt = select(la).where(la.c.key == key)
        if self._postgres:
            stmt = stmt.with_for_update()
        return _counter((await self._conn.execute(stmt)).mappings().one())

    async def purge_counters(
        self, untouched_before: datetime, *, limit: int
    ) -> builtins.list[LoginCounter]:
        """Delete up to `limit` counters not written since `untouched_before`; returns them.
        A counter a sign-in claims meanwhile is written with a later time, so the delete
        skips it."""
        stale = la.c.updated_at < untouched_before
        batch = select(la.c.key).where(stale).order_by(la.c.updated_at).limit(limit)
        stmt = delete(la).where(la.c.key.in_(batch), stale).returning(*la.c)
        rows = (await self._conn.execute(stmt)).mappings().all()
        return [_counter(row) for row in rows]

    async def save_counter(self, counter: LoginCounter) -> None:
        await self._conn.execute(
            update(la)
            .where(la.c.key == counter.key)
            .values(
                failures=counter.failures,
                window_started_at=counter.window_started_at,
                lockouts=counter.lockouts,
                locked_until=counter.locked_until,
                updated_at=self._clock(),
            )
        )


def _counter(row: RowMapping) -> LoginCounter:
    return LoginCounter(
        key=row["key"],
        failures=row["failures"],
        window_started_at=row["window_started_at"],
        lockouts=row["lockouts"],
        locked_until=row["locked_until"],
    )


def _operator(row: RowMapping) -> Operator:
    return Operator(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
        one_time_password_until=one_time_passwords.until(row["password_hash"]),
    )


def _token(row: RowMapping) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        operator_id=row["operator_id"],
        name=row["name"],
        role=row["role"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )
