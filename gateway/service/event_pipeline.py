"""Every locker event, applied once, in its locker's journal order, in one transaction.

Adapters hand each event to `locker_event` from their locker's lane (one lane per locker), so
events of one locker arrive here one at a time and in order. Per event:

1. one transaction: the journal mark moves (EventOrder.admit), the inbox records the message
   id (a QoS 1 redelivery to any instance is a no-op), and the event's service changes the
   door session, compartment, parcel (+ parcel event + outbox rows) and audit trail;
2. a transient database error (Unavailable, ConcurrentUpdate) is retried with `backoff_s`,
   a bounded number of times; the locker's lane waits meanwhile, so order holds;
3. an event that still fails is PARKED (table parked_events, a log line, a counter; listed
   by `openlocker events parked`). Parking moves the journal mark and the inbox past the event
   in the same transaction: a permanently failing event must not wedge its locker, whose later
   events are applied as they come. The price: an event retried later (`openlocker events
   retry`) is applied after events that followed it. Door transitions tolerate that (a stale
   DoorOpened is recognised by its time; a parcel that moved on ignores the door's verdict),
   and a keypad entry is never replayed late (nobody is waiting at the door any more).
   If even parking fails (the database is down), the event is left to the locker's journal:
   the mark did not move, so the next Heartbeat asks for a replay (logged, counted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.clock import Clock, utc_now
from gateway.domain.backoff import backoff_s
from gateway.errors import ConcurrentUpdate, Unavailable
from gateway.sdk import (
    CodeEntered,
    DoorClosed,
    DoorOpened,
    JournalReported,
    KeySetRefused,
    LockerEvent,
    LockerFault,
    PresenceChanged,
)
from gateway.service.door_events import DoorEvents
from gateway.service.event_order import EventGap, EventOrder
from gateway.service.key_distribution import audit_forged_key_set
from gateway.service.keypad import KeypadOutcome
from gateway.service.keypad_entry import KeypadEntry
from gateway.service.parked_events import decode_event, encode_event
from gateway.service.presence import Presence
from gateway.store import Store, UnitOfWork
from gateway.store.parked_events import ParkedEvent

log = logging.getLogger(__name__)

# Errors that say "the database could not do it now", not "this event cannot be applied".
TRANSIENT = (Unavailable, ConcurrentUpdate)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently one event is retried before it is parked."""

    attempts: int = 5
    base_s: float = 0.2
    cap_s: float = 5.0


@dataclass(slots=True)
class PipelineCounts:
    """Since start, for logs, metrics and tests."""

    applied: int = 0  # events applied (their transaction committed)
    duplicates: int = 0  # redeliveries and already-processed journal numbers
    retries: int = 0  # attempts repeated after a transient error
    parked: int = 0  # events parked after their last attempt
    unparked: int = 0  # events neither applied nor parked: left to the locker's journal
    reports_skipped: int = 0  # journal reports given up on (the next Heartbeat repeats them)
    presence_skipped: int = 0  # online reports an accepted Boot had already written
    parked_applied: int = 0  # parked events applied by a retry
    parked_failed_again: int = 0  # retries of parked events that failed again


Sleep = Callable[[float], Awaitable[None]]


class EventPipeline:
    def __init__(
        self,
        *,
        store: Store,
        order: EventOrder,
        doors: DoorEvents,
        presence: Presence,
        keypad: KeypadEntry,
        retry: RetryPolicy | None = None,
        sweep_interval_s: float = 5.0,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._order = order
        self._doors = doors
        self._presence = presence
        self._keypad = keypad
        self._retry = retry or RetryPolicy()
        self._sweep_s = sweep_interval_s
        self._sleep = sleep
        self._clock = clock
        self.counts = PipelineCounts()

    # ---- events from adapters ------------------------------------------------------------

    async def locker_event(self, event: LockerEvent) -> None:
        """Apply the event, retrying transient errors; park it if it still fails. Returns
        once it is applied, parked or (database down) left to the locker's journal."""
        error: Exception | None = None
        attempt = 0
        while attempt < self._retry.attempts:
            attempt += 1
            try:
                await self.handle(event)
                return
            except TRANSIENT as err:
                error = err
                if attempt < self._retry.attempts:
                    self.counts.retries += 1
                    delay = backoff_s(attempt, base_s=self._retry.base_s, cap_s=self._retry.cap_s)
                    log.warning(
                        "%s from %s not applied yet (%s); retry %d in %.2f s",
                        type(event).__name__,
                        event.locker_id,
                        err,
                        attempt,
                        delay,
                    )
                    await self._sleep(delay)
            except Exception as err:
                # Not the database's weather: retrying the same event would fail the same way.
                log.exception("%s from %s failed", type(event).__name__, event.locker_id)
                error = err
                break
        assert error is not None
        if isinstance(event, JournalReported):
            # A report, not an event: nothing to park, the locker repeats it every Heartbeat.
            self.counts.reports_skipped += 1
            log.warning("journal report of %s skipped: %s", event.locker_id, error)
            return
        await self._park(event, error, attempt)

    async def handle(self, event: LockerEvent) -> None:
        """One attempt: act on the event exactly once and in the locker's journal order,
        whichever instance receives it (SPEC §9 "Event order and reconciliation")."""
        if isinstance(event, JournalReported):
            # Boot and Heartbeat are live, never replayed: they show the locker's clock offset
            # (an adapter's own report after an overload does not).
            if event.live:
                self._keypad.clocks.live(event.locker_id, event.at, self._clock())
            await self._order.reported(event)
            return
        if isinstance(event, PresenceChanged) and self._presence.redundant(event):
            self.counts.presence_skipped += 1
            return
        try:
            entry = await self._apply(event)
        except EventGap as gap:
            if await self._order.wait_for_turn(gap):
                # Another instance applied the events before it meanwhile (shared
                # subscriptions spread a locker's events): its turn now, or a duplicate.
                await self.handle(event)
            else:
                # The early event is dropped; the replay brings it again after the missing ones.
                await self._order.gap(gap)
            return
        if isinstance(event, CodeEntered) and entry is not None:
            await self._keypad.answer(event, entry)

    async def _apply(self, event: LockerEvent) -> KeypadOutcome | None:
        async with self._store.transaction() as tx:
            if not await self._order.admit(tx, event):
                self.counts.duplicates += 1
                return None
            if not await tx.inbox.first_time(event.locker_id, event.event_id):
                self.counts.duplicates += 1
                return None
            entry = await self._dispatch(tx, event)
        self.counts.applied += 1
        if event.event_seq is not None:
            # Committed: the mark is here now, so the next Heartbeat reporting it is free.
            self._order.marks.saw(event.locker_id, event.event_seq)
        return entry

    async def _dispatch(self, tx: UnitOfWork, event: LockerEvent) -> KeypadOutcome | None:
        if isinstance(event, DoorOpened):
            await self._doors.opened(tx, event)
        elif isinstance(event, DoorClosed):
            await self._doors.closed(tx, event)
        elif isinstance(event, LockerFault):
            await self._doors.fault(tx, event)
        elif isinstance(event, PresenceChanged):
            await self._presence.changed(tx, event)
        elif isinstance(event, CodeEntered):
            return await self._keypad.decide(tx, event)
        elif isinstance(event, KeySetRefused):
            await audit_forged_key_set(tx, event)
        return None

    # ---- parking -------------------------------------------------------------------------

    async def _park(self, event: LockerEvent, error: Exception, attempts: int) -> None:
        name, data = encode_event(event)
        try:
            async with self._store.transaction() as tx:
                if not await self._step_over(tx, event):
                    return
                await tx.parked_events.park(
                    locker_id=event.locker_id,
                    event_id=event.event_id,
                    event_seq=event.event_seq,
                    type=name,
                    event=data,
                    error=_describe(error),
                    attempts=attempts,
                )
        except EventGap as gap:
            # Earlier events are missing: this one comes back with the replay, in order.
            await self._order.gap(gap)
            return
        except Exception:
            self.counts.unparked += 1
            log.exception(
                "%s %s from %s could neither be applied nor parked; the locker's journal "
                "replays it after its next Heartbeat (if it has one)",
                name,
                event.event_id,
                event.locker_id,
            )
            return
        self.counts.parked += 1
        log.error(
            "%s %s (seq %s) from %s PARKED after %d attempt(s): %s; "
            "`openlocker events parked` lists it, `openlocker events retry` applies it again",
            name,
            event.event_id,
            event.event_seq,
            event.locker_id,
            attempts,
            _describe(error),
        )

    async def _step_over(self, tx: UnitOfWork, event: LockerEvent) -> bool:
        """Move the journal mark and the inbox past `event`, as if it was applied; False when
        it was applied meanwhile (by another instance), so there is nothing to park."""
        number = event.event_seq
        if number is not None:
            mark = await tx.sessions.event_mark(event.locker_id)
            if mark is not None and number <= mark:
                return False
            if mark is not None and number > mark + 1:
                raise EventGap(event.locker_id, mark, number)
            await tx.sessions.advance_event_mark(event.locker_id, number)
        return await tx.inbox.first_time(event.locker_id, event.event_id)

    # ---- retries of parked events --------------------------------------------------------

    async def sweep_forever(self) -> None:
        """Apply the parked events an operator flagged (`openlocker events retry`), forever."""
        while True:
            try:
                await self.retry_flagged()
            except Exception:
                log.exception("parked-event sweep failed; next in %.0f s", self._sweep_s)
            await self._sleep(self._sweep_s)

    async def retry_flagged(self, limit: int = 100) -> int:
        """One sweep: every flagged event applied (or back to parked with its new error);
        returns how many were applied."""
        async with self._store.transaction() as tx:
            flagged = await tx.parked_events.flagged(limit)
        applied = 0
        for parked in flagged:
            applied += await self._retry_one(parked)
        return applied

    async def _retry_one(self, parked: ParkedEvent) -> bool:
        try:
            event = decode_event(parked.type, parked.event)
            async with self._store.transaction() as tx:
                # Taking the row is the claim: of two instances sweeping, one applies it.
                if not await tx.parked_events.take(parked.id):
                    return False
                if isinstance(event, CodeEntered):
                    # A door opens only for the person waiting at the keypad, never later.
                    log.warning(
                        "parked keypad entry %s of %s at %s discarded, not replayed",
                        event.event_id,
                        event.locker_id,
                        event.at.isoformat(),
                    )
                    return False
                await self._dispatch(tx, event)
        except Exception as err:
            self.counts.parked_failed_again += 1
            log.warning("parked event %d failed again: %s", parked.id, _describe(err))
            async with self._store.transaction() as tx:
                await tx.parked_events.failed_again(parked.id, _describe(err))
            return False
        self.counts.parked_applied += 1
        log.info(
            "parked %s %s from %s applied on retry",
            parked.type,
            parked.event_id,
            parked.locker_id,
        )
        return True


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
