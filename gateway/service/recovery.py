"""What a crashed gateway left in flight, finished or reconciled: at start-up, then each pass.

A gateway killed mid-way leaves door sessions in the database that no process is finishing:
an unlock whose command went out but whose answer was never recorded (`requested`), or a
door reported open whose close was never applied (`open`). Everything else in flight is
finished elsewhere, and this pass only says so in the log (docs/operations.md "After a
crash"): an Idempotency-Key "in progress" is settled by its replay (gateway/service/
unlocks.py), an outbox row in flight is sent again once its lease ends (at least once),
a parked event waits for `openlocker events retry`, a bus lease expires.

A door session is judged only once the locker's events are known to have been applied up
to now: its journal is replayed (the events the locker sent while no gateway listened) and
the processed mark has reached the replay's last event. Then
  - `requested` past its deadline (plus the locker's clock leeway): the locker never reported
    opening the door for it, and can no longer act on the command (its `exp`) — ended
    unperformed, so the door's next event is not taken for this unlock;
  - `open`, while the locker's retained State, newer than the opening, shows the door shut:
    its DoorClosed is lost for good (a journal reset) — finished from the State, as that
    close would have finished it (the parcel moves as the item sensor says).
Each reconciled session gets an audit entry (`recovery.reconciled`) and a WARNING line.
A locker that cannot be asked (offline, no replay) keeps its sessions for the next pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.domain.backoff import backoff_s
from gateway.domain.door import DoorSession, DoorSessionState
from gateway.domain.enums import DoorState
from gateway.errors import OpenLockerError
from gateway.sdk import AdapterFeatures, DoorClosed, LockerStatus, SupportsEventReplay
from gateway.service.adapters import AdapterDirectory
from gateway.service.door_events import DoorEvents
from gateway.service.unlocks import EXP_GRACE
from gateway.store import Store

log = logging.getLogger(__name__)

# How long a replay's events may take to be applied before the pass gives up on the locker.
CATCH_UP_TIMEOUT = timedelta(seconds=15)
# An open door session (its close not applied) younger than this is left alone by the
# periodic pass: deposits and pickups take a while, and a door left open alarms by itself.
OPEN_STALE = timedelta(minutes=10)
# Passes right after start for lockers that could not be asked yet, before the interval.
START_RETRIES = 5
# How long after its deadline a session is judged: the locker checks a command's `exp` on its
# own clock, which may run a little behind ours (the same grace frees an Idempotency-Key).
SETTLE = EXP_GRACE


@dataclass(slots=True)
class RecoveryReport:
    """One pass: what it found in flight and what it did with it."""

    live: int = 0  # door sessions not closed or failed
    ended: list[int] = field(default_factory=list)  # `requested`, never performed
    finished: list[int] = field(default_factory=list)  # `open`, closed from the State
    waiting: list[str] = field(default_factory=list)  # lockers that could not be asked
    parked: int = 0  # locker events waiting for an operator's retry
    next_due: datetime | None = None  # when the earliest session not yet judged will be

    @property
    def reconciled(self) -> int:
        return len(self.ended) + len(self.finished)


class Recovery:
    def __init__(
        self,
        *,
        store: Store,
        adapters: AdapterDirectory,
        doors: DoorEvents,
        actor: str,
        catch_up_timeout: timedelta = CATCH_UP_TIMEOUT,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._adapters = adapters
        self._doors = doors
        self._actor = actor
        self._catch_up_timeout = catch_up_timeout
        self._clock = clock
        self._started_at = clock()

    async def run_once(self) -> RecoveryReport:
        report = RecoveryReport()
        async with self._store.transaction() as tx:
            live = await tx.doors.all_live()
            report.parked = await tx.parked_events.count()
        report.live = len(live)
        now = self._clock()
        due: dict[str, list[DoorSession]] = defaultdict(list)
        for session in live:
            if self._judgeable(session, now):
                due[session.locker_id].append(session)
            elif session.state is DoorSessionState.REQUESTED:
                at = session.deadline + SETTLE
                report.next_due = at if report.next_due is None else min(report.next_due, at)
        for locker_id, sessions in due.items():
            status = await self._caught_up(locker_id)
            if status is None:
                report.waiting.append(locker_id)
                continue
            for session in sessions:
                await self._settle(session, status, report)
        return report

    async def run_at_start(self) -> RecoveryReport:
        """The start-up pass, with the lines an operator reads after a crash."""
        report = await self.run_once()
        if report.live or report.parked:
            log.warning(
                "recovery at start: %d door session(s) in flight, %d ended unperformed, "
                "%d finished from the locker's State, %d locker(s) to ask again (%s); "
                "%d parked event(s) (`openlocker events parked`); deliveries in flight are "
                "sent again when their lease ends (`openlocker deliveries list`)",
                report.live,
                len(report.ended),
                len(report.finished),
                len(report.waiting),
                ", ".join(report.waiting) or "none",
                report.parked,
            )
        else:
            log.info("recovery at start: nothing in flight")
        return report

    async def run_forever(self, interval_s: float) -> None:
        """A pass at start, then one every `interval_s`: a session stale after a lost reply
        (no crash at all) is reconciled as well. Lockers that could not be asked at start
        (the broker connection or the locker not back yet) are asked again sooner."""
        try:
            report = await self.run_at_start()
            attempt = 0
            while attempt < START_RETRIES:
                # An unlock that was in flight at the crash is judged once its deadline has
                # passed: right then, not a whole interval later.
                wait = interval_s
                if report.next_due is not None:
                    wait = (report.next_due - self._clock()).total_seconds() + 0.1
                if report.waiting:
                    wait = min(wait, backoff_s(attempt + 1, base_s=1.0, cap_s=interval_s))
                if wait >= interval_s:
                    break
                attempt += 1
                await asyncio.sleep(max(wait, 0.0))
                report = await self.run_once()
                if report.reconciled:
                    log.warning("recovery reconciled %d door session(s)", report.reconciled)
        except Exception:
            log.exception("recovery pass at start failed; trying again in %g s", interval_s)
        while True:
            await asyncio.sleep(interval_s)
            try:
                report = await self.run_once()
                if report.reconciled:
                    log.info("recovery reconciled %d door session(s)", report.reconciled)
            except Exception:
                # This runs in the gateway's TaskSet: an escaping error would stop the gateway.
                log.exception("recovery pass failed; trying again in %g s", interval_s)

    def _judgeable(self, session: DoorSession, now: datetime) -> bool:
        if session.state is DoorSessionState.REQUESTED:
            return now > session.deadline + SETTLE
        # A door open since before this process started may have lost its close with the
        # crash; one opened since is judged only once open for long (a person takes a while,
        # and each judgement costs the locker a replay).
        opened = session.opened_at or session.requested_at
        return opened < self._started_at or now > opened + OPEN_STALE

    async def _caught_up(self, locker_id: str) -> LockerStatus | None:
        """The locker's State once every event it journaled until now is applied; None when
        that cannot be known now (offline, no answer, events lost: the next pass asks again)."""
        try:
            adapter = await self._adapters.for_locker(locker_id)
            if AdapterFeatures.EVENT_REPLAY in adapter.features and isinstance(
                adapter, SupportsEventReplay
            ):
                async with self._store.transaction() as tx:
                    mark = await tx.sessions.event_mark(locker_id) or 0
                deadline = self._clock() + self._catch_up_timeout
                replay = await adapter.replay_events(locker_id, mark, deadline)
                if replay.lost:
                    # Gone for good (a wiped journal): what they said is only in the State
                    # now. Past them, as EventOrder does, then the rest of the journal.
                    log.warning(
                        "recovery: locker %s no longer holds events %d..%d; its State decides",
                        locker_id,
                        replay.lost[0],
                        replay.lost[-1],
                    )
                    async with self._store.transaction() as tx:
                        await tx.sessions.set_event_mark(
                            locker_id, replay.oldest_seq - 1, only_forward=True
                        )
                        mark = await tx.sessions.event_mark(locker_id) or 0
                    replay = await adapter.replay_events(locker_id, mark, deadline)
                log.info(
                    "recovery: locker %s replayed %d event(s) after %d",
                    locker_id,
                    replay.replayed,
                    replay.after_seq,
                )
                if not await self._applied_up_to(locker_id, replay.last_seq):
                    log.warning(
                        "recovery: locker %s events up to %d not applied within %s",
                        locker_id,
                        replay.last_seq,
                        self._catch_up_timeout,
                    )
                    return None
            status = await adapter.read_status(locker_id)
        except OpenLockerError as err:
            log.warning("recovery: locker %s cannot be asked now: %s", locker_id, err)
            return None
        return status

    async def _applied_up_to(self, locker_id: str, last_seq: int) -> bool:
        loop = asyncio.get_running_loop()
        until = loop.time() + self._catch_up_timeout.total_seconds()
        while loop.time() < until:
            async with self._store.transaction() as tx:
                mark = await tx.sessions.event_mark(locker_id) or 0
            if mark >= last_seq:
                return True
            await asyncio.sleep(0.05)
        return False

    async def _settle(
        self, session: DoorSession, status: LockerStatus, report: RecoveryReport
    ) -> None:
        async with self._store.transaction() as tx:
            # Locked: a late event of this door waits for, or is seen by, this decision.
            current = await tx.doors.get(session.id, for_update=True)
            if current is None or current.state not in (
                DoorSessionState.REQUESTED,
                DoorSessionState.OPEN,
            ):
                return  # finished meanwhile (a replayed event, another instance)
            now = self._clock()
            if current.state is DoorSessionState.REQUESTED:
                await tx.doors.failed(current.id, None, now)
                outcome = "ended-unperformed"
                report.ended.append(current.id)
            else:
                door = next(
                    (c for c in status.compartments if c.code == current.compartment_code), None
                )
                opened = current.opened_at or current.requested_at
                seen = status.last_seen
                if (
                    door is None
                    or door.door is not DoorState.CLOSED
                    or seen is None
                    or (seen <= opened)
                ):
                    return  # open for real, or no State newer than the opening: wait
                closed = DoorClosed(
                    locker_id=current.locker_id,
                    at=seen,
                    event_id=f"recovery-{current.id}",
                    compartment_code=current.compartment_code,
                    item=door.item,
                )
                await self._doors.closed(tx, closed)
                outcome = f"closed-from-state (item {door.item})"
                report.finished.append(current.id)
            await tx.audit.append(
                AuditAction.RECOVERED,
                actor=self._actor,
                subject=current.locker_id,
                details={
                    "what": "door-session",
                    "doorSession": current.id,
                    "compartmentCode": current.compartment_code,
                    "purpose": str(current.purpose),
                    "was": str(current.state),
                    "outcome": outcome,
                    "deadline": current.deadline.isoformat(),
                },
            )
        log.warning(
            "recovery: door session %d (%s/%s, %s, %s since %s) %s",
            current.id,
            current.locker_id,
            current.compartment_code,
            current.purpose,
            current.state,
            current.requested_at.isoformat(),
            outcome,
        )
