"""How an attempt's outcome is written: delivered, retried with back-off, dead, or disabled.

Outcomes of attempts that end close together are written in one transaction (group commit):
a flusher task takes whatever is queued, waits at most `delay_s` for more (or until `batch`
are waiting) and writes them all, each row's update still fenced on its own claim (see
OutboxRepository._settle): an instance whose lease ran out never overwrites the outcome of
the one that took the row over, batch or not. A crash before the flush loses only the
outcome: the row is sent again once its lease ends (at least once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.clock import Clock
from gateway.delivery.routes import DeliveryPolicy, Route, TargetKind
from gateway.delivery.transports.base import Outcome
from gateway.domain.audit import AuditAction
from gateway.domain.backoff import backoff_s
from gateway.errors import ConcurrentUpdate, Unavailable
from gateway.store import Delivery, Store, UnitOfWork

__all__ = ["Settler"]

log = logging.getLogger(__name__)

MAX_ERROR = 500  # the schemas' bound for lastError
_WRITE_TRIES = 3
_WRITE_PAUSE_S = 0.05

Write = Callable[[UnitOfWork], Awaitable[bool]]
# Told of each attempt's result as it is settled: delivered, retry, dead, gone, skipped or
# released (metrics and the delivery's log line; gateway/observability).
ResultHook = Callable[[Delivery, str, "int | None"], None]


def _ignore(delivery: Delivery, result: str, status: int | None) -> None:
    return None


@dataclass(slots=True)
class _Queued:
    write: Write
    kept: asyncio.Future[bool]


class Settler:
    """Writes outcomes for the engine; one per engine.

    While `run_forever` runs (a task of the engine's TaskGroup), writes are batched; without
    it (a test calling the engine's `run_once` without it, say) each is its own transaction.
    """

    def __init__(
        self,
        *,
        store: Store,
        actor: str,
        clock: Clock,
        rand: Callable[[], float],
        delay_s: float = 0.005,
        batch: int = 64,
        on_result: ResultHook | None = None,
    ) -> None:
        self._on_result = on_result or _ignore
        self._store = store
        self._actor = actor
        self._clock = clock
        self._rand = rand
        self._delay_s = delay_s
        self._batch = batch
        self._queue: list[_Queued] = []
        self._ready = asyncio.Event()  # something is queued
        self._full = asyncio.Event()  # `batch` are queued: no reason to wait longer
        self._flushers = 0

    async def run_forever(self) -> None:
        """Flush the queue whenever something is in it: one transaction per flush."""
        self._flushers += 1
        try:
            while True:
                await self._ready.wait()
                if len(self._queue) < self._batch and self._delay_s > 0:
                    # Attempts started together end together: a few ms gathers most of them.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._delay_s):
                            await self._full.wait()
                taken, self._queue = self._queue, []
                self._ready.clear()
                self._full.clear()
                try:
                    await self._flush(taken)
                finally:
                    _cancel(taken)  # only those the flush never answered (cancelled in it)
        finally:
            self._flushers -= 1
            # What is still queued is only outcomes: their rows are sent again after the
            # lease. The waiting attempts are cancelled rather than left hanging.
            _cancel(self._queue)
            self._queue = []

    async def outcome(self, delivery: Delivery, route: Route, outcome: Outcome) -> None:
        if outcome.gone:
            await self._disable_target(delivery, route)
            self._on_result(delivery, "gone", outcome.status)
            return
        if outcome.ok:
            self._on_result(delivery, "delivered", outcome.status)
            at = self._clock()
            kept = await self._write(
                lambda tx: tx.outbox.mark_delivered(delivery, status=outcome.status, at=at)
            )
            _lost_lease(delivery, kept)
            return
        error = _clip(outcome.error or f"HTTP {outcome.status}")
        retry_at = None if outcome.permanent else self._retry_at(delivery, route.policy, outcome)
        self._on_result(delivery, "dead" if retry_at is None else "retry", outcome.status)
        kept = await self._write(
            lambda tx: tx.outbox.mark_failed(
                delivery, status=outcome.status, error=error, retry_at=retry_at
            )
        )
        if retry_at is None and kept:
            log.warning(
                "delivery %s of event %s to %s %s is dead after %d attempts: %s",
                delivery.id,
                delivery.event_id,
                route.kind,
                route.target_id,
                delivery.attempts,
                error,
            )
        _lost_lease(delivery, kept)

    async def failed(self, delivery: Delivery, error: str) -> None:
        """A failed attempt without a route to say the policy: the default schedule."""
        retry_at = self._retry_at(delivery, DeliveryPolicy(), Outcome(ok=False))
        self._on_result(delivery, "dead" if retry_at is None else "retry", None)
        kept = await self._write(
            lambda tx: tx.outbox.mark_failed(
                delivery, status=None, error=_clip(error), retry_at=retry_at
            )
        )
        _lost_lease(delivery, kept)

    async def dead(self, delivery: Delivery, error: str) -> None:
        """Dead at once: retrying cannot help (no such target, an unmappable event)."""
        self._on_result(delivery, "dead", None)
        kept = await self._write(
            lambda tx: tx.outbox.mark_failed(
                delivery, status=None, error=_clip(error), retry_at=None
            )
        )
        if kept:
            log.warning(
                "delivery %s of event %s is dead: %s", delivery.id, delivery.event_id, error
            )
        _lost_lease(delivery, kept)

    async def skipped(self, delivery: Delivery, reason: str) -> None:
        self._on_result(delivery, "skipped", None)
        kept = await self._write(lambda tx: tx.outbox.mark_skipped(delivery, reason=_clip(reason)))
        _lost_lease(delivery, kept)

    async def release(self, delivery: Delivery, retry_at: datetime) -> None:
        """Not attempted after all (open circuit, rate limit): due again, attempt not spent."""
        self._on_result(delivery, "released", None)
        kept = await self._write(lambda tx: tx.outbox.release(delivery, retry_at=retry_at))
        _lost_lease(delivery, kept)

    async def _write(self, write: Write) -> bool:
        """One fenced write, in the next batch; True if this claim still held the row."""
        if not self._flushers:
            return (await self._transaction([write]))[0]
        item = _Queued(write, asyncio.get_running_loop().create_future())
        self._queue.append(item)
        self._ready.set()
        if len(self._queue) >= self._batch:
            self._full.set()
        return await item.kept

    async def _flush(self, taken: list[_Queued]) -> None:
        try:
            kept = await self._transaction([item.write for item in taken])
        except Exception as err:
            # Not written: each waiting attempt hears why; its lease ends and it is retried.
            for item in taken:
                if not item.kept.done():
                    item.kept.set_exception(err)
            return
        for item, one in zip(taken, kept, strict=True):
            if not item.kept.done():  # an attempt cancelled meanwhile (shutdown)
                item.kept.set_result(one)

    async def _transaction(self, writes: list[Write]) -> list[bool]:
        """Fenced writes in one transaction, tried again if the database was busy: an
        outcome not written before the lease ends means the event is sent once more."""
        for attempt in range(1, _WRITE_TRIES + 1):
            try:
                async with self._store.transaction() as tx:
                    return [await write(tx) for write in writes]
            except (Unavailable, ConcurrentUpdate):
                if attempt == _WRITE_TRIES:
                    raise
                await asyncio.sleep(_WRITE_PAUSE_S * attempt)
        raise AssertionError("unreachable")

    def _retry_at(
        self, delivery: Delivery, policy: DeliveryPolicy, outcome: Outcome
    ) -> datetime | None:
        if delivery.attempts >= policy.max_attempts:
            return None
        # Equal jitter: receivers that fail together (an outage) are not hammered by every
        # gateway in lock-step when they come back.
        delay = backoff_s(
            delivery.attempts,
            # A cap below the base caps the first wait too, as it always has.
            base_s=min(policy.backoff_base_s, policy.backoff_cap_s),
            cap_s=policy.backoff_cap_s,
            rand=self._rand,
        )
        if outcome.retry_after_s is not None:
            # The peer said when: not before then, but never past our own cap.
            delay = max(delay, min(outcome.retry_after_s, policy.backoff_cap_s))
        return self._clock() + timedelta(seconds=delay)

    async def _disable_target(self, delivery: Delivery, route: Route) -> None:
        """410 Gone: the target is disabled, its pending rows go dead, the operator is told.

        Rare, and its own transaction: not worth a place in the batch.
        """
        kind, target = route.kind, route.target_id
        reason = f"the endpoint answered 410 Gone: {kind} {target} was disabled"
        now = self._clock()
        async with self._store.transaction() as tx:
            await tx.outbox.mark_failed(delivery, status=410, error=reason, retry_at=None)
            changed = await _deactivate(tx, delivery, kind, reason, now)
            others = await tx.outbox.kill_pending(target, reason, kind=kind)
            if changed:
                await tx.audit.append(
                    AuditAction.DELIVERY_TARGET_DISABLED,
                    actor=self._actor,
                    subject=f"{kind}:{target}",
                    details={
                        "targetKind": kind.value,
                        "targetId": target,
                        "carrierId": delivery.carrier_id,
                        "eventId": delivery.event_id,
                        "status": 410,
                        "pendingGivenUp": others,
                    },
                )
        if changed:
            log.warning(
                "%s %s of carrier %s answered 410 Gone: disabled, %d pending deliveries dead",
                kind,
                target,
                delivery.carrier_id,
                others,
            )


async def _deactivate(
    tx: UnitOfWork, delivery: Delivery, kind: TargetKind, reason: str, now: datetime
) -> bool:
    if kind is TargetKind.WEBHOOK:
        return await tx.webhooks.deactivate(delivery.carrier_id, delivery.target_id, now)
    return await tx.connector_attachments.set_active(
        delivery.target_id, False, at=now, reason=reason
    )


def _cancel(items: list[_Queued]) -> None:
    for item in items:
        if not item.kept.done():
            item.kept.cancel()


def _lost_lease(delivery: Delivery, kept: bool) -> None:
    if not kept:
        log.info("delivery %s moved on meanwhile; outcome dropped", delivery.id)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"
