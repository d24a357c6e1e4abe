"""The audit trail: append-only, hash-chained rows, serialised across transactions and instances."""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, and_, bindparam, exists, func, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.audit import AuditAction
from gateway.domain.audit_chain import GENESIS_HASH, check_actor, entry_hash, normalise_details
from gateway.store._sql import Clock, Repository
from gateway.store.tables import audit_log as t

# Any constant shared by every instance: the advisory lock that serialises appends.
_AUDIT_LOCK_ID = 0x4F4C505F41554454  # "OLP_AUDT"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored entry; `action` is a plain string since a tampered row may hold anything."""

    position: int
    at: datetime
    action: str
    actor: str
    subject: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class _Head:
    position: int
    hash: str


# The last head this process wrote through each engine: a guess, never trusted. The first entry
# of the next transaction is inserted only if the log still ends at that very row (checked by
# the INSERT itself, under the appenders' lock), so a head moved by another process or
# instance, a rolled-back transaction or a deleted tail costs one extra statement (the head is
# then read) and never breaks the chain. This saves the head read of each auditing transaction.
_last_heads: weakref.WeakKeyDictionary[Engine, _Head] = weakref.WeakKeyDictionary()

_COLUMNS = ("position", "at", "action", "actor", "subject", "details", "prev_hash", "hash")

# INSERT INTO audit_log SELECT :values WHERE the log ends at row :position - 1 with :prev_hash.
_prev = t.alias("prev")
_after = t.alias("after")
_APPEND_IF_HEAD = insert(t).from_select(
    list(_COLUMNS),
    select(*[bindparam(c, type_=t.c[c].type) for c in _COLUMNS]).where(
        and_(
            exists().where(
                _prev.c.position == bindparam("prev_position"),
                _prev.c.hash == bindparam("head_hash"),
            ),
            ~exists().where(_after.c.position > bindparam("prev_position")),
        )
    ),
)


@dataclass(frozen=True, slots=True)
class _Pending:
    at: datetime
    action: AuditAction
    actor: str
    subject: str
    details: dict[str, Any]


class AuditRepository(Repository):
    """`append` collects entries; they are chained and written when the transaction commits.

    Writing at the end (Store.transaction calls flush) keeps the chain lock to the last moment
    of a transaction: holding it earlier would serialise every auditing transaction for its
    whole length, and on PostgreSQL could deadlock with row locks taken after it.
    """

    def __init__(self, conn: AsyncConnection, *, clock: Clock) -> None:
        super().__init__(conn, clock=clock)
        self._pending: builtins.list[_Pending] = []
        # This transaction's own last entry: later flushes chain on it without a read.
        self._written: _Head | None = None

    async def append(
        self,
        action: AuditAction,
        *,
        actor: str,
        subject: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record `action` by `actor` about `subject`; written if the transaction commits."""
        if not isinstance(subject, str) or not subject:
            raise ValueError("an audit entry needs a subject (a parcel uid, a kid, a locker id)")
        self._pending.append(
            _Pending(
                at=self._clock(),
                action=AuditAction(action),
                actor=check_actor(actor),
                subject=subject,
                details=normalise_details(details),
            )
        )

    async def flush(self) -> None:
        """Chain and insert the collected entries, under the lock that serialises appenders."""
        if not self._pending:
            return
        if self._written is None:
            await self._lock()  # once per transaction: PostgreSQL holds it until commit
        engine = self._conn.sync_engine
        guess = self._written or _last_heads.get(engine)
        rows = None
        if guess is not None:
            rows = self._chain(guess)
            if not await self._append_if_head(rows[0], guess):
                rows = None
        if rows is None:
            head = await self._head()
            rows = self._chain(None if head is None else _Head(head.position, head.hash))
            await self._conn.execute(insert(t), rows)
        elif len(rows) > 1:
            await self._conn.execute(insert(t), rows[1:])
        self._pending.clear()
        self._written = _last_heads[engine] = _Head(rows[-1]["position"], rows[-1]["hash"])

    def _chain(self, head: _Head | None) -> builtins.list[dict[str, Any]]:
        """The pending entries as rows linked after `head` (None: the empty log)."""
        position, prev_hash = (0, GENESIS_HASH) if head is None else (head.position, head.hash)
        rows = []
        for entry in self._pending:
            position += 1
            values: dict[str, Any] = {
                "position": position,
                "at": entry.at,
                "action": entry.action.value,
                "actor": entry.actor,
                "subject": entry.subject,
                "details": entry.details,
                "prev_hash": prev_hash,
            }
            values["hash"] = prev_hash = entry_hash(**values)
            rows.append(values)
        return rows

    async def _append_if_head(self, row: dict[str, Any], head: _Head) -> bool:
        """Insert `row` if the log still ends at `head`; False (nothing written) if not."""
        params = row | {"prev_position": head.position, "head_hash": head.hash}
        result = await self._conn.execute(_APPEND_IF_HEAD, params)
        return result.rowcount == 1

    async def head(self) -> AuditRecord | None:
        """The last entry (this transaction's own appends included), None if the log is empty."""
        await self.flush()
        return await self._head()

    async def page(self, *, after: int = 0, limit: int = 500) -> builtins.list[AuditRecord]:
        """Up to `limit` entries with position > `after`, in chain order."""
        await self.flush()
        stmt = select(t).where(t.c.position > after).order_by(t.c.position).limit(limit)
        return [_record(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def latest(
        self, limit: int, *, action: str | None = None, subject: str | None = None
    ) -> builtins.list[AuditRecord]:
        """The newest `limit` entries (of `action`, about `subject`, if given), oldest first."""
        await self.flush()
        stmt = select(t).order_by(t.c.position.desc()).limit(limit)
        if action is not None:
            stmt = stmt.where(t.c.action == action)
        if subject is not None:
            stmt = stmt.where(t.c.subject == subject)
        rows = [_record(row) for row in (await self._conn.execute(stmt)).mappings()]
        return rows[::-1]

    async def count(self) -> int:
        await self.flush()
        return int((await self._conn.execute(select(func.count()).select_from(t))).scalar_one())

    async def _lock(self) -> None:
        if self._postgres:
            # Held until commit: the next appender reads the head only after this one's rows
            # are visible (READ COMMITTED takes a fresh snapshot per statement).
            await self._conn.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": _AUDIT_LOCK_ID}
            )
        # SQLite needs nothing: every transaction begins IMMEDIATE, holding the write lock.

    async def _head(self) -> AuditRecord | None:
        stmt = select(t).order_by(t.c.position.desc()).limit(1)
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _record(row)


def _record(row: RowMapping) -> AuditRecord:
    return AuditRecord(
        position=int(row["position"]),
        at=row["at"],
        action=row["action"],
        actor=row["actor"],
        subject=row["subject"],
        details=row["details"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
