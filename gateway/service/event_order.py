"""Journaled locker events in order and exactly once: gaps ask for a replay, losses reconcile.

SPEC §9 "Event order and reconciliation". The processed mark per locker lives in the database
and moves in the transaction that applies the event, so a gateway that dies between the
broker's PUBACK and its commit has not moved it: the locker's next Heartbeat reports a newer
`lastEventSeq` and the event is replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.backoff import backoff_s
from gateway.errors import OpenLockerError
from gateway.sdk import (
    AdapterFeatures,
    JournalReported,
    LockerEvent,
    ReplayReport,
    SupportsEventReplay,
)
from gateway.sdk.lifetime import TaskSet
from gateway.service.adapters import AdapterDirectory
from gateway.store import Store, UnitOfWork

log = logging.getLogger(__name__)


class EventGap(Exception):
    """A journaled event came before the ones it follows; it must not be applied yet."""

    def __init__(self, locker_id: str, mark: int, event_seq: int) -> None:
        super().__init__(f"locker {locker_id}: event {event_seq} arrived after {mark}")
        self.locker_id = locker_id
        self.mark = mark
        self.event_seq = event_seq


class EventMarks:
    """The processed mark of each locker as this instance last saw it, so that a Boot's or a
    Heartbeat's journal report of a locker that is up to date costs no transaction.

    Why a remembered mark may be trusted only when it EQUALS the reported `lastEventSeq`:
    the mark in the database moves forward only (an applied, parked or lost event, by any
    instance), except at a Boot that reports a reset journal. Moved forward by another
    instance, the remembered mark is lower than the database's: a report above it reads the
    database (a read too many, never a replay skipped); a report equal to it is at or below
    the database's mark, where there is nothing to replay (and a journal reset is decided at
    Boot only, from the mark this instance read in the Boot's own transaction, just before).
    Moved backward by a reset Boot that ANOTHER instance answered, the remembered mark is too
    high and a report equal to it could skip a replay: entries therefore expire after
    `ttl_s`, which bounds that delay to one heartbeat after it (a reset journal plus lost
    events plus the Boot on another instance). Reports below or above the mark always read.
    """

    def __init__(self, *, ttl_s: float = 300.0, monotonic: Callable[[], float] = time.monotonic):
        self._ttl_s = ttl_s
        self._monotonic = monotonic
        self._seen: dict[str, tuple[int, float]] = {}

    def saw(self, locker_id: str, mark: int) -> None:
        """The mark as a committed transaction of this instance read or left it."""
        self._seen[locker_id] = (mark, self._monotonic() + self._ttl_s)

    def forget(self, locker_id: str) -> None:
        self._seen.pop(locker_id, None)

    def up_to_date(self, locker_id: str, last_event_seq: int) -> bool:
        """True when a report of `last_event_seq` needs no look at the database."""
        seen = self._seen.get(locker_id)
        if seen is None:
            return False
        if self._monotonic() >= seen[1]:
            del self._seen[locker_id]
            return False
        return seen[0] == last_event_seq


class EventOrder:
    """The gateway's side of the event journal, shared by every adapter with EVENT_REPLAY."""

    def __init__(
        self,
        *,
        store: Store,
        adapters: AdapterDirectory,
        replay_timeout: timedelta = timedelta(seconds=10),
        replay_hold_s: float = 10.0,
        gap_wait_s: float = 2.0,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        marks: EventMarks | None = None,
        retry_attempts: int = 8,
        retry_base_s: float = 1.0,
        retry_cap_s: float = 30.0,
    ) -> None:
        self._store = store
        self.marks = marks or EventMarks(monotonic=monotonic)
        self._adapters = adapters
        self._replay_timeout = replay_timeout
        self._hold_s = replay_hold_s
        self._gap_wait_s = gap_wait_s
        self._clock = clock
        self._monotonic = monotonic
        # locker -> (afterSeq asked for, until when): events that were queued behind a gap
        # would each ask for the same replay again; one request per mark is enough.
        self._asked: dict[str, tuple[int, float]] = {}
        # locker -> the mark a gap wait already timed out on: the missing event is with nobody
        # (lost on the way, or a single instance), so the events queued behind the same gap
        # must not each wait again — the lane would be held gap_wait_s per event.
        self._waited_in_vain: dict[str, int] = {}
        # A replay request that failed (no reply: broker restart, link cut) is asked again
        # with back-off from a task of its own, or the locker's later events wait behind the
        # gap until the next Heartbeat or Boot (the chaos run saw ~2 minutes). Worst case with
        # the defaults: 8 tries over ~2.5 minutes, then the Heartbeat takes over.
        self._retry_attempts = retry_attempts
        self._retry_base_s = retry_base_s
        self._retry_cap_s = retry_cap_s
        self._in_flight: set[str] = set()  # lockers with a replay request out: never two
        self._retrying: dict[str, asyncio.Task[None]] = {}
        self._tasks: TaskSet | None = None

    @contextlib.asynccontextmanager
    async def retries(self) -> AsyncIterator[None]:
        """Failed replay requests are retried while this block runs (the app holds it)."""
        async with TaskSet("event-replay") as tasks:
            self._tasks = tasks
            try:
                yield
            finally:
                self._tasks = None

    async def admit(self, tx: UnitOfWork, event: LockerEvent) -> bool:
        """In the event's own transaction: True to apply it (the mark moved with it), False
        for a duplicate; raises EventGap when earlier events are missing."""
        number = event.event_seq
        if number is None:
            return True  # a locker without a journal: dedupe on the message id only
        if await tx.sessions.advance_event_mark(event.locker_id, number):
            return True
        mark = await tx.sessions.event_mark(event.locker_id)
        if mark is None:
            log.warning("event %s of unknown locker %s applied unordered", number, event.locker_id)
            return True
        if number <= mark:
            log.info(
                "locker %s: event %d already processed (mark %d)", event.locker_id, number, mark
            )
            return False
        raise EventGap(event.locker_id, mark, number)

    async def wait_for_turn(self, gap: EventGap) -> bool:
        """True once the mark reached the events before this one, False if it did not in time.

        Behind `$share/...` a locker's events are spread over the instances: the events before
        this one are usually being applied by another instance right now. Asking the locker
        for a replay at once would drop this event, and the replayed events are spread again
        (measured by bench/scale_out.py: 2 instances ran 0.08x one, p99 54 s).
        """
        if self._waited_in_vain.get(gap.locker_id) == gap.mark:
            return False  # this gap was waited for once already; the replay is asked for
        deadline = self._monotonic() + self._gap_wait_s
        attempt = 0
        while self._monotonic() < deadline:
            attempt += 1
            await asyncio.sleep(backoff_s(attempt, base_s=0.005, cap_s=0.1))
            async with self._store.transaction() as tx:
                mark = await tx.sessions.event_mark(gap.locker_id)
            if mark is None or mark >= gap.event_seq - 1:
                self._waited_in_vain.pop(gap.locker_id, None)
                return True
        self._waited_in_vain[gap.locker_id] = gap.mark
        return False

    async def gap(self, gap: EventGap) -> None:
        """The early event is dropped; the replay brings it again after the missing ones."""
        log.info("%s; asking for a replay after %d", gap, gap.mark)
        await self.replay(gap.locker_id, gap.mark)

    async def reported(self, event: JournalReported) -> None:
        """Boot or Heartbeat said which event the locker sent last: catch up if behind."""
        if event.at_boot:
            self._stop_retrying(event.locker_id)  # the Boot's own report decides from here
        if not event.live:
            # The adapter's lane refused these events and has drained since: no event queued
            # behind a gap is left to ask again, so the hold on the last request does not
            # apply, and each chunk of an overload's catch-up is asked at once.
            self._asked.pop(event.locker_id, None)
        if self.marks.up_to_date(event.locker_id, event.last_event_seq):
            return  # the usual Heartbeat, and every Boot of an up-to-date locker: no transaction
        async with self._store.transaction() as tx:
            mark = await tx.sessions.event_mark(event.locker_id)
        if mark is None:
            return
        self.marks.saw(event.locker_id, mark)
        if event.last_event_seq == mark:
            return
        if event.last_event_seq > mark:
            log.info(
                "locker %s sent events up to %d, processed up to %d: asking for a replay",
                event.locker_id,
                event.last_event_seq,
                mark,
            )
            await self.replay(event.locker_id, mark)
        elif event.at_boot:
            # Only a locker that lost its journal can report less than was processed.
            log.warning(
                "locker %s boots with events up to %d but %d were processed: its journal was "
                "reset; numbering starts again from there",
                event.locker_id,
                event.last_event_seq,
                mark,
            )
            async with self._store.transaction() as tx:
                await tx.sessions.set_event_mark(
                    event.locker_id, event.last_event_seq, only_forward=False
                )
            self.marks.saw(event.locker_id, event.last_event_seq)

    async def replay(self, locker_id: str, after_seq: int) -> None:
        """Ask the locker for its events after `after_seq`; a request that fails is retried
        with back-off in the background (`retries`)."""
        if locker_id in self._in_flight:
            # The request out brings every event after an older mark, this gap's too.
            log.debug("locker %s: a replay is already in flight", locker_id)
            return
        now = self._monotonic()
        asked = self._asked.get(locker_id)
        if asked is not None and asked[0] == after_seq and now < asked[1]:
            log.debug("locker %s: replay after %d already requested", locker_id, after_seq)
            return
        adapter = await self._replayer(locker_id, after_seq)
        if adapter is None:
            return
        err = await self._request(adapter, locker_id, after_seq)
        if err is None:
            return
        if locker_id in self._retrying:
            log.debug("locker %s: replay after %d failed again: %s", locker_id, after_seq, err)
            return
        if self._tasks is None:
            log.warning(
                "locker %s did not replay events after %d: %s; the next gap or Heartbeat asks "
                "again",
                locker_id,
                after_seq,
                err,
            )
            return
        log.warning(
            "locker %s did not replay events after %d: %s; asking again with back-off "
            "(up to %d tries) until the gap closes",
            locker_id,
            after_seq,
            err,
            self._retry_attempts,
        )
        self._retrying[locker_id] = self._tasks.start(
            self._retry(locker_id, after_seq), name=f"event-replay:{locker_id}"
        )

    async def _replayer(self, locker_id: str, after_seq: int) -> SupportsEventReplay | None:
        try:
            adapter = await self._adapters.for_locker(locker_id)
        except OpenLockerError as err:
            log.warning("locker %s: no adapter to ask for a replay: %s", locker_id, err)
            return None
        if AdapterFeatures.EVENT_REPLAY not in adapter.features or not isinstance(
            adapter, SupportsEventReplay
        ):
            log.warning(
                "locker %s cannot replay events; %d onwards stay missing", locker_id, after_seq + 1
            )
            return None
        return adapter

    async def _request(
        self, adapter: SupportsEventReplay, locker_id: str, after_seq: int
    ) -> OpenLockerError | None:
        """One replay request; the error when it got no (good) answer, None when answered."""
        self._in_flight.add(locker_id)
        self._asked[locker_id] = (after_seq, self._monotonic() + self._hold_s)
        try:
            report = await adapter.replay_events(
                locker_id, after_seq, self._clock() + self._replay_timeout
            )
        except OpenLockerError as err:
            self._asked.pop(locker_id, None)
            return err
        finally:
            self._in_flight.discard(locker_id)
        log.info(
            "locker %s replayed %d event(s) after %d (journal %d..%d)",
            locker_id,
            report.replayed,
            after_seq,
            report.oldest_seq,
            report.last_seq,
        )
        if report.lost:
            await self._lost(locker_id, report)
        return None

    async def _retry(self, locker_id: str, after_seq: int) -> None:
        """One episode: ask again after back-off until answered, the gap closed (the mark moved
        past `after_seq`: another instance's replay, or a Heartbeat's), or the locker went
        offline or rebooted (its Boot reports its journal and that decides). Bounded; one log
        line when it starts (in `replay`) and one when it ends."""
        try:
            booted_at = None
            for attempt in range(1, self._retry_attempts + 1):
                async with self._store.transaction() as tx:
                    session = await tx.sessions.get(locker_id)
                    mark = await tx.sessions.event_mark(locker_id)
                if attempt == 1 and session is not None:
                    booted_at = session.booted_at
                if session is None or not session.online or session.booted_at != booted_at:
                    log.info("locker %s offline or rebooted: replay retries end", locker_id)
                    return
                if mark is None or mark > after_seq:
                    log.info(
                        "locker %s: the gap after %d closed; replay retries end",
                        locker_id,
                        after_seq,
                    )
                    return
                await asyncio.sleep(
                    backoff_s(attempt, base_s=self._retry_base_s, cap_s=self._retry_cap_s)
                )
                if locker_id in self._in_flight:
                    continue  # a gap in the lane asked meanwhile; see what it brought
                adapter = await self._replayer(locker_id, mark)
                if adapter is None:
                    return
                err = await self._request(adapter, locker_id, mark)
                if err is None:
                    log.info("locker %s answered the replay on try %d", locker_id, attempt + 1)
                    return
                log.debug("locker %s: replay try %d failed: %s", locker_id, attempt + 1, err)
            log.warning(
                "locker %s: replay after %d unanswered %d times; the next Heartbeat asks again",
                locker_id,
                after_seq,
                self._retry_attempts + 1,
            )
        except Exception:
            # Never takes the TaskSet (and every other locker's retries) down with it.
            log.exception("locker %s: replay retries failed", locker_id)
        finally:
            self._retrying.pop(locker_id, None)

    def _stop_retrying(self, locker_id: str) -> None:
        task = self._retrying.pop(locker_id, None)
        if task is not None:
            task.cancel()

    async def _lost(self, locker_id: str, report: ReplayReport) -> None:
        first, last = report.lost[0], report.lost[-1]
        log.warning(
            "locker %s: events %d..%d are no longer in its journal and are lost; "
            "taking door and item states from its reported State",
            locker_id,
            first,
            last,
        )
        async with self._store.transaction() as tx:
            # Forward only: another instance may have got further meanwhile.
            await tx.sessions.set_event_mark(locker_id, report.oldest_seq - 1, only_forward=True)
        self.marks.forget(locker_id)
        await self._reconcile(locker_id)

    async def _reconcile(self, locker_id: str) -> None:
        """Door and item sensor of every compartment as the locker's retained State has them."""
        try:
            adapter = await self._adapters.for_locker(locker_id)
            status = await adapter.read_status(locker_id)
        except OpenLockerError as err:
            log.warning("locker %s: no State to reconcile from: %s", locker_id, err)
            return
        if not status.compartments:
            log.warning("locker %s: no State known yet; door states left as they were", locker_id)
            return
        changed = []
        async with self._store.transaction() as tx:
            for reported in status.compartments:
                before = await tx.lockers.compartment(locker_id, reported.code)
                if before is None:
                    continue
                after = replace(before, door=reported.door, item=reported.item)
                if after != before:
                    await tx.lockers.save_compartment(before, after)
                    changed.append(reported.code)
        log.warning("locker %s: reconciled from State: %s", locker_id, changed or "no change")
