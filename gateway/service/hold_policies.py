"""Hold-time policies: operators set them per network, carrier and locker; bookings apply them.

A booking reads the three scopes in its own transaction and fixes the outcome on the parcel
(gateway/domain/hold_policy.py), so every instance applies the same policy and a change made
later leaves parcels already booked as they were.
"""

from __future__ import annotations

from datetime import timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.domain.hold_policy import (
    AppliedHold,
    HoldPolicy,
    HoldPolicyRecord,
    PolicyScope,
    resolve,
)
from gateway.errors import NotFound
from gateway.store import Store, UnitOfWork

__all__ = ["HoldPolicies", "HoldPolicyRecord"]


class HoldPolicies:
    def __init__(
        self, *, store: Store, base: AppliedHold, network_id: str, clock: Clock = utc_now
    ) -> None:
        """`base`: the `[parcels]` defaults, under every policy row."""
        self._store = store
        self._base = base
        self._network_id = network_id
        self._clock = clock

    @property
    def base(self) -> AppliedHold:
        return self._base

    async def applied(
        self,
        tx: UnitOfWork,
        *,
        carrier_id: str,
        locker_id: str,
        requested_window: timedelta | None = None,
    ) -> AppliedHold:
        """The policy a parcel booked now gets (read inside the booking's transaction)."""
        keys = [
            (PolicyScope.NETWORK, self._network_id),
            (PolicyScope.CARRIER, carrier_id),
            (PolicyScope.LOCKER, locker_id),
        ]
        found = await tx.hold_policies.layers(keys)
        layers = [(scope, found.get((scope, scope_id))) for scope, scope_id in keys]
        return resolve(self._base, layers, requested_window=requested_window)

    async def effective(self, *, carrier_id: str, locker_id: str) -> AppliedHold:
        async with self._store.transaction() as tx:
            return await self.applied(tx, carrier_id=carrier_id, locker_id=locker_id)

    async def list(self, scope: PolicyScope | None = None) -> list[HoldPolicyRecord]:
        async with self._store.transaction() as tx:
            return await tx.hold_policies.list(scope)

    async def get(self, scope: PolicyScope, scope_id: str) -> HoldPolicyRecord:
        async with self._store.transaction() as tx:
            found = await tx.hold_policies.get(scope, scope_id)
        if found is None:
            raise NotFound(f"no hold policy for {scope} {scope_id!r}")
        return found

    async def put(
        self,
        scope: PolicyScope,
        scope_id: str,
        policy: HoldPolicy,
        *,
        actor: str,
        reason: str | None = None,
    ) -> HoldPolicyRecord:
        """Set (or replace) one scope's policy; it applies to parcels booked from now on."""
        async with self._store.transaction() as tx:
            await self._known(tx, scope, scope_id)
            record = await tx.hold_policies.put(scope, scope_id, policy, actor=actor)
            await tx.audit.append(
                AuditAction.ADMIN_ACTION,
                actor=actor,
                subject=f"{scope}:{scope_id}",
                details={
                    "what": "hold_policy.set",
                    "reason": reason,
                    "holdDays": policy.hold_days,
                    "reminderHours": (
                        None if policy.reminder_hours is None else list(policy.reminder_hours)
                    ),
                    "extensionDays": policy.extension_days,
                },
            )
            return record

    async def delete(
        self, scope: PolicyScope, scope_id: str, *, actor: str, reason: str | None = None
    ) -> None:
        async with self._store.transaction() as tx:
            if not await tx.hold_policies.delete(scope, scope_id):
                raise NotFound(f"no hold policy for {scope} {scope_id!r}")
            await tx.audit.append(
                AuditAction.ADMIN_ACTION,
                actor=actor,
                subject=f"{scope}:{scope_id}",
                details={"what": "hold_policy.deleted", "reason": reason},
            )

    async def _known(self, tx: UnitOfWork, scope: PolicyScope, scope_id: str) -> None:
        """A policy for a carrier, locker or network that does not exist would never apply."""
        if scope is PolicyScope.NETWORK:
            exists = scope_id == self._network_id
        elif scope is PolicyScope.CARRIER:
            exists = await tx.carriers.get(scope_id) is not None
        else:
            exists = await tx.lockers.get(scope_id) is not None
        if not exists:
            raise NotFound(f"no {scope} {scope_id!r} in this network")
