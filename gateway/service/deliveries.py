"""Every delivery to every target (webhooks and connectors): listing, dead letters and replay."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.domain.delivery import TargetKind
from gateway.domain.webhooks import DeliveryState
from gateway.errors import IllegalTransition, NotFound
from gateway.service.cursors import decode_cursor, encode_cursor
from gateway.service.idempotency import Answered, Idempotent, run_idempotent
from gateway.store import Delivery, Store, UnitOfWork

CURSOR_KIND = "dv"
REPLAYABLE = frozenset({DeliveryState.DEAD, DeliveryState.SKIPPED})


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    """One id of an operator's replay: the delivery, pending again, or why it was refused."""

    delivery_id: int
    delivery: Delivery | None = None
    refused: str | None = None


class DeliveryService:
    """Carriers see and replay their own deliveries; operators (the CLI) see every carrier's."""

    def __init__(self, *, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def list(
        self,
        carrier_id: str | None,
        *,
        target_id: str | None = None,
        state: DeliveryState | None = None,
        cursor: str | None = None,
        after_id: int | None = None,
        limit: int = 50,
    ) -> tuple[builtins.list[Delivery], str | None]:
        """One page, oldest first, of one carrier's deliveries (None: every carrier's).

        The page starts after `cursor` (the HTTP API's) or after `after_id` (the CLI's).
        """
        after = decode_cursor(cursor, CURSOR_KIND) if cursor else after_id
        async with self._store.transaction() as tx:
            items, next_id = await tx.outbox.page_all_targets(
                carrier_id=carrier_id,
                target_id=target_id,
                state=state,
                after_id=after,
                limit=limit,
            )
        return items, encode_cursor(CURSOR_KIND, next_id) if next_id is not None else None

    async def replay(
        self, carrier_id: str, delivery_id: int, idem: Idempotent[Delivery]
    ) -> Answered[Delivery]:
        """A carrier's dead (or skipped) delivery gets a fresh schedule of attempts, due now."""

        async def work(tx: UnitOfWork, now: datetime) -> Delivery:
            found = await tx.outbox.find(delivery_id)
            if found is None or found.carrier_id != carrier_id:
                # Another carrier's delivery is reported missing so that ids do not leak.
                raise NotFound(f"no delivery {delivery_id}")
            return await _replay(tx, found, now)

        return await run_idempotent(
            self._store, self._clock, carrier_id, idem, work, subject="delivery"
        )

    async def replay_ids(self, delivery_ids: builtins.list[int]) -> builtins.list[ReplayOutcome]:
        """The operator's replay by id, any carrier; each id on its own, refusals reported."""
        outcomes: builtins.list[ReplayOutcome] = []
        for delivery_id in delivery_ids:
            try:
                async with self._store.transaction() as tx:
                    found = await tx.outbox.find(delivery_id)
                    if found is None:
                        raise NotFound(f"no delivery {delivery_id}")
                    replayed = await _replay(tx, found, self._clock())
                outcomes.append(ReplayOutcome(delivery_id, delivery=replayed))
            except (NotFound, IllegalTransition) as err:
                outcomes.append(ReplayOutcome(delivery_id, refused=err.description))
        return outcomes

    async def replay_audited(
        self, delivery_id: int, *, actor: str, details: dict[str, Any]
    ) -> Delivery:
        """An operator's replay of one delivery (admin API), audited in the same transaction."""
        async with self._store.transaction() as tx:
            found = await tx.outbox.find(delivery_id)
            if found is None:
                raise NotFound(f"no delivery {delivery_id}")
            replayed = await _replay(tx, found, self._clock())
            await tx.audit.append(
                AuditAction.ADMIN_ACTION,
                actor=actor,
                subject=f"delivery:{delivery_id}",
                details={"what": "delivery.replay", "deliveryId": delivery_id, **details},
            )
        return replayed

    async def replay_all_dead(self, target_id: str, *, batch: int = 200) -> int:
        """Every dead delivery of one target, replayed; how many. Refused if the target is off."""
        replayed = 0
        after: int | None = None
        while True:
            async with self._store.transaction() as tx:
                rows, after = await tx.outbox.page_all_targets(
                    carrier_id=None,
                    target_id=target_id,
                    state=DeliveryState.DEAD,
                    after_id=after,
                    limit=batch,
                )
                now = self._clock()
                for row in rows:
                    await _replay(tx, row, now)
                replayed += len(rows)
            if after is None:
                return replayed


async def _replay(tx: UnitOfWork, delivery: Delivery, now: datetime) -> Delivery:
    """Requeue `delivery` if it is dead or skipped and its target still takes deliveries."""
    if delivery.state not in REPLAYABLE:
        raise IllegalTransition(
            f"delivery {delivery.id} is {delivery.state}; only dead or skipped ones are replayed",
            details={"deliveryId": delivery.id, "state": str(delivery.state)},
        )
    refusal = await _target_refusal(tx, delivery)
    if refusal is not None:
        raise IllegalTransition(
            f"delivery {delivery.id} cannot be replayed: {refusal}",
            details={
                "deliveryId": delivery.id,
                "targetKind": str(delivery.target_kind),
                "targetId": delivery.target_id,
            },
        )
    return await tx.outbox.replay(delivery.id, now)


async def _target_refusal(tx: UnitOfWork, delivery: Delivery) -> str | None:
    """Why the row's target takes no deliveries now (deleted, disabled), or None."""
    if delivery.target_kind is TargetKind.WEBHOOK:
        sub = await tx.webhooks.get(delivery.carrier_id, delivery.target_id)
        if sub is None or not sub.active:
            return f"webhook subscription {delivery.target_id} was deleted"
        return None
    attachment = await tx.connector_attachments.get(delivery.target_id)
    if attachment is None or attachment.carrier_id != delivery.carrier_id:
        return f"connector attachment {delivery.target_id} was removed"
    if not attachment.active:
        why = f" ({attachment.disabled_reason})" if attachment.disabled_reason else ""
        return f"connector attachment {delivery.target_id} is disabled{why}; enable it first"
    return None
