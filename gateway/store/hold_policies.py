"""Hold-time policies per network, carrier and locker, one row per scope."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import RowMapping, bindparam, delete, select, tuple_, update

from gateway.domain.hold_policy import HoldPolicy, HoldPolicyRecord, PolicyScope
from gateway.store._sql import Repository, insert_if_absent
from gateway.store.tables import hold_policies as t

# Built once: every booking reads its three layers (network, carrier, locker).
_LAYERS = select(t).where(tuple_(t.c.scope, t.c.scope_id).in_(bindparam("keys", expanding=True)))


class HoldPolicyRepository(Repository):
    async def get(self, scope: PolicyScope, scope_id: str) -> HoldPolicyRecord | None:
        stmt = select(t).where(t.c.scope == scope.value, t.c.scope_id == scope_id)
        row = (await self._conn.execute(stmt)).mappings().first()
        return None if row is None else _record(row)

    async def layers(
        self, keys: Sequence[tuple[PolicyScope, str]]
    ) -> dict[tuple[PolicyScope, str], HoldPolicy]:
        """The policies of these scopes that exist, in one query (a booking asks for three)."""
        wanted = [(scope.value, scope_id) for scope, scope_id in keys]
        rows = (await self._conn.execute(_LAYERS, {"keys": wanted})).mappings()
        found = [_record(row) for row in rows]
        return {(r.scope, r.scope_id): r.policy for r in found}

    async def list(self, scope: PolicyScope | None = None) -> list[HoldPolicyRecord]:
        stmt = select(t).order_by(t.c.scope, t.c.scope_id)
        if scope is not None:
            stmt = stmt.where(t.c.scope == scope.value)
        return [_record(row) for row in (await self._conn.execute(stmt)).mappings()]

    async def put(
        self, scope: PolicyScope, scope_id: str, policy: HoldPolicy, *, actor: str
    ) -> HoldPolicyRecord:
        now = self._clock()
        values = {
            "hold_days": policy.hold_days,
            "reminder_hours": (
                None if policy.reminder_hours is None else list(policy.reminder_hours)
            ),
            "extension_days": policy.extension_days,
            "updated_at": now,
            "updated_by": actor,
        }
        key = {"scope": scope.value, "scope_id": scope_id}
        if not await insert_if_absent(self._conn, t, key | values):
            await self._conn.execute(
                update(t).where(t.c.scope == scope.value, t.c.scope_id == scope_id).values(values)
            )
        return HoldPolicyRecord(scope, scope_id, policy, now, actor)

    async def delete(self, scope: PolicyScope, scope_id: str) -> bool:
        stmt = delete(t).where(t.c.scope == scope.value, t.c.scope_id == scope_id)
        return bool((await self._conn.execute(stmt)).rowcount == 1)


def _record(row: RowMapping) -> HoldPolicyRecord:
    hours = row["reminder_hours"]
    return HoldPolicyRecord(
        scope=PolicyScope(row["scope"]),
        scope_id=row["scope_id"],
        policy=HoldPolicy(
            hold_days=row["hold_days"],
            reminder_hours=None if hours is None else tuple(hours),
            extension_days=row["extension_days"],
        ),
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
    )
