"""Unlocks the gateway orders: a carrier's remote open, or a door a keypad code earned.

Each unlock is two transactions around the adapter call: the first starts the door session
(for a remote open it also claims the Idempotency-Key and reads the parcel), the second records
the locker's outcome with its audit entry, the parcel's transition and the idempotent answer.
A failure in between ends the session and gives the key back in one more.

A key's claim names its door session. A claim its request never settled (the gateway was
killed, or recording failed after the locker acted) is settled by a replay: with the session's
real outcome once the locker reported the door opened, else refused as running until the
session's deadline has passed (plus `EXP_GRACE`), after which the locker refuses the command
(its `exp`), so the session is ended and the open is done afresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.door import (
    PURPOSE_FOR_STATE,
    DoorSession,
    DoorSessionState,
    OpenOutcome,
    OpenPurpose,
)
from gateway.domain.enums import ParcelAction, ParcelState
from gateway.domain.parcel import Parcel
from gateway.errors import (
    ConcurrentUpdate,
    IdempotencyConflict,
    IllegalTransition,
    NotFound,
    OpenLockerError,
    OperationTimeout,
)
from gateway.service.adapters import AdapterDirectory
from gateway.service.alarmed_doors import move_off_alarm
from gateway.service.door_audit import audit_open
from gateway.service.door_state import jammed
from gateway.service.holds import attached_hold
from gateway.service.idempotency import (
    Answered,
    Idempotent,
    JsonBody,
    in_progress,
    is_in_progress,
    prior_answer,
    settle,
)
from gateway.service.out_of_service import refuse_into_out_of_service
from gateway.service.parcels import ParcelService
from gateway.service.pickup_checks import check_for, open_door
from gateway.store import IdempotencyRace, Store, UnitOfWork

log = logging.getLogger(__name__)

# A claimed key is freed this long after its door session's deadline: the locker checks a
# command's `exp` (the deadline) on its own clock, which may run a little behind ours.
EXP_GRACE = timedelta(seconds=2)
# A claiming transaction that collided is read again this many times (see `_claim`).
CLAIM_ATTEMPTS = 3
# The door reported open for the session: the locker acted.
_ACTED = (DoorSessionState.OPEN, DoorSessionState.CLOSED)


@dataclass(frozen=True, slots=True)
class OpenResult:
    outcome: OpenOutcome
    purpose: OpenPurpose
    locker_id: str
    compartment_code: str
    parcel_state: ParcelState


@dataclass(frozen=True, slots=True)
class _Claimed:
    """A remote open's first transaction: the stored answer of a replay, or a started door."""

    prior: JsonBody | None = None
    session: DoorSession | None = None


class Unlocks:
    def __init__(
        self,
        *,
        store: Store,
        parcels: ParcelService,
        adapters: AdapterDirectory,
        open_timeout: timedelta = timedelta(seconds=10),
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._parcels = parcels
        self._adapters = adapters
        self._open_timeout = open_timeout
        self._clock = clock

    async def remote_open_once(
        self, carrier_id: str, parcel_id: str, request: Idempotent[OpenResult]
    ) -> Answered[OpenResult]:
        """`remote_open` at most once per Idempotency-Key: the key is claimed in the
        transaction that starts the door session, before the command goes out, so a retry
        can never open a door a second time. If recording the outcome fails after the locker
        acted, or the gateway dies meanwhile, the key stays claimed: a replay answers the door
        session's real outcome once the locker reported the door opened, is refused as still
        running until the deadline has passed, and then opens afresh (`_unsettled`)."""

        async def find(tx: UnitOfWork) -> tuple[Parcel, OpenPurpose]:
            parcel = await tx.parcels.get(carrier_id, parcel_id)
            if parcel is None:
                raise NotFound(f"no parcel {parcel_id!r}")
            parcel = await self._reserve_at_door(tx, parcel)
            purpose = _purpose(parcel)
            door = await refuse_into_out_of_service(tx, parcel, purpose)
            # A deposit into a door out of its temperature range moves or is refused.
            return await move_off_alarm(tx, parcel, purpose, self._clock(), door=door), purpose

        return await self.open_once(carrier_id, f"carrier:{carrier_id}", find, request)

    async def _reserve_at_door(self, tx: UnitOfWork, parcel: Parcel) -> Parcel:
        """A parcel announced with a soft hold (reserve false) takes its compartment now, at
        the door, from the held class: the hold becomes a hard reservation (holds.py)."""
        if parcel.state is not ParcelState.ANNOUNCED:
            return parcel
        if await attached_hold(tx, parcel.uid, self._clock()) is None:
            return parcel
        return await self._parcels.apply_in(tx, parcel, ParcelAction.RESERVE)

    async def open_once(
        self,
        scope: str,
        actor: str,
        find: Callable[[UnitOfWork], Awaitable[tuple[Parcel, OpenPurpose]]],
        request: Idempotent[OpenResult],
    ) -> Answered[OpenResult]:
        """`remote_open_once` for any caller: the key is `scope`'s (a carrier id, or
        `operator:<id>`), `find` reads the parcel and its purpose in the claiming transaction
        (and may write there what belongs with the claim: an operator's audited intent)."""
        claimed = await self._claim(scope, actor, find, request)
        if claimed.prior is not None:
            return Answered(None, claimed.prior)
        session = claimed.session
        assert session is not None
        outcome = await self._operate(session, release=(scope, request.key.key))
        async with self._store.transaction() as tx:
            result = await self._record(tx, session, outcome, actor)
            answered = await settle(tx, scope, request, result)
        self._log(session, outcome)
        return answered

    async def _claim(
        self,
        scope: str,
        actor: str,
        find: Callable[[UnitOfWork], Awaitable[tuple[Parcel, OpenPurpose]]],
        request: Idempotent[OpenResult],
    ) -> _Claimed:
        """The claiming transaction, read again after a collision: nothing has been sent to
        the locker yet, so a retry is safe, and it finds what the winner decided (two replays
        of one key at the same moment on PostgreSQL; seen under CI load)."""
        for attempt in range(1, CLAIM_ATTEMPTS + 1):
            try:
                async with self._store.transaction() as tx:
                    return await self._claim_and_start(tx, scope, actor, find, request)
            except IdempotencyRace as err:
                raise IdempotencyConflict(
                    "the first request with this Idempotency-Key is still running"
                ) from err
            except ConcurrentUpdate:
                if attempt == CLAIM_ATTEMPTS:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def remote_open(self, carrier_id: str, parcel_id: str) -> OpenResult:
        """A carrier opens its parcel's door; answers the locker's real outcome or a timeout."""
        async with self._store.transaction() as tx:
            parcel = await tx.parcels.get(carrier_id, parcel_id)
            if parcel is None:
                raise NotFound(f"no parcel {parcel_id!r}")
            purpose = _purpose(parcel)
            door = await refuse_into_out_of_service(tx, parcel, purpose)
            parcel = await move_off_alarm(tx, parcel, purpose, self._clock(), door=door)
            session = await self._start(tx, parcel, purpose)
        return await self._finish(session, f"carrier:{carrier_id}")

    async def open_for(
        self, parcel: Parcel, purpose: OpenPurpose, *, actor: str | None = None
    ) -> OpenResult:
        """Unlock the parcel's door; `actor` (audit trail) defaults to the parcel's carrier."""
        async with self._store.transaction() as tx:
            session = await self._start(tx, parcel, purpose)
        return await self._finish(session, actor or f"carrier:{parcel.carrier_id}")

    async def open_empty(
        self,
        locker_id: str,
        code: str,
        actor: str,
        intent: Callable[[UnitOfWork], Awaitable[None]],
    ) -> OpenOutcome:
        """Open a door with no parcel behind it (an operator's inspection) through the same
        door session as every unlock, of purpose `service` and without a parcel: the locker's
        door events close the session, a jam takes the compartment out of service
        (door_state.jammed), and the close moves nothing. `intent` writes what belongs with the
        start (the operator's audited reason). An out-of-service compartment may be opened
        (inspecting it is the point); one holding or reserved for a parcel may not (that is
        the parcel's remote open), nor one whose door another session is opening."""
        async with self._store.transaction() as tx:
            door = await tx.lockers.compartment(locker_id, code)
            if door is None:
                raise NotFound(f"no compartment {code!r} at locker {locker_id!r}")
            if door.parcel_uid is not None:
                raise IllegalTransition(
                    f"compartment {code} holds parcel {door.parcel_uid} ({door.state}): open "
                    "the parcel's door instead (POST /v1/admin/parcels/{uid}/open)",
                    details={"parcelUid": door.parcel_uid, "state": str(door.state)},
                )
            # Unchanged, but written: on PostgreSQL it locks the row until the session has
            # started, and it fails (ConcurrentUpdate) if a booking took the compartment.
            # Before the look for a live session, not after: a concurrent open waits here for
            # this one's commit and then sees its session, instead of both seeing none and
            # the locker being told to unlock twice.
            await tx.lockers.save_compartment(door, door)
            live = await tx.doors.live(locker_id, code)
            if live is not None:
                raise IllegalTransition(
                    f"door {code} is being opened already (door session {live.id}, "
                    f"{live.purpose}, until {live.deadline.isoformat()})",
                    details={"doorSession": live.id},
                )
            await intent(tx)
            session = await tx.doors.start(
                locker_id=locker_id,
                compartment_code=code,
                parcel_uid=None,
                purpose=OpenPurpose.SERVICE,
                deadline=self._clock() + self._open_timeout,
            )
        return (await self._finish(session, actor)).outcome

    async def _claim_and_start(
        self,
        tx: UnitOfWork,
        scope: str,
        actor: str,
        find: Callable[[UnitOfWork], Awaitable[tuple[Parcel, OpenPurpose]]],
        request: Idempotent[OpenResult],
    ) -> _Claimed:
        idem = request.key
        prior = await prior_answer(tx, scope, idem)
        if prior is not None and is_in_progress(prior):
            prior = await self._unsettled(tx, scope, actor, request)
        if prior is not None:
            return _Claimed(prior=prior)
        # Raising here rolls the claim back with everything else: a retry may try again.
        parcel, purpose = await find(tx)
        session = await self._start(tx, parcel, purpose)
        # Claimed in the transaction that starts the session, naming it: a concurrent request
        # with the key loses the insert (IdempotencyRace) and its session is rolled back.
        marker = in_progress(doorSession=session.id, deadline=session.deadline.isoformat())
        await tx.idempotency.put(scope, idem.key, idem.fingerprint, marker)
        return _Claimed(session=session)

    async def _unsettled(
        self, tx: UnitOfWork, scope: str, actor: str, request: Idempotent[OpenResult]
    ) -> JsonBody | None:
        """A key still claimed: the answer to give (the door session's real outcome), None once
        the key is freed (the deadline passed: nothing can open for it any more), or
        IdempotencyConflict while the first request may still be running."""
        idem = request.key
        # Locked: of two replays, the second sees what the first decided.
        record = await tx.idempotency.get(scope, idem.key, for_update=True)
        if record is None or not is_in_progress(record.response):
            return None if record is None else record.response
        session_id = record.response.get("doorSession")
        # Locked too: the locker's late DoorOpened must either be seen here or wait until this
        # transaction ended the session (then it is an unasked open, audited as such).
        session = (
            await tx.doors.get(session_id, for_update=True) if isinstance(session_id, int) else None
        )
        if session is not None and (session.state in _ACTED or session.outcome is not None):
            result = await self._outcome_of(tx, session, actor)
            log.warning(
                "Idempotency-Key %s of %s: settled from door session %d (%s)",
                idem.key,
                scope,
                session.id,
                result.outcome,
            )
            return (await settle(tx, scope, request, result)).answer
        # A claim from before claims named their session: the deadline it had at the latest.
        deadline = session.deadline if session else record.created_at + self._open_timeout
        now = self._clock()
        if now <= deadline + EXP_GRACE:
            raise IdempotencyConflict(
                "the first request with this Idempotency-Key is still running",
                details={"idempotencyKey": idem.key, "deadline": deadline.isoformat()},
            )
        if session is not None:
            await tx.doors.failed(session.id, None, now)
        await tx.idempotency.release(scope, idem.key)
        log.warning(
            "Idempotency-Key %s of %s: its open was never settled and its deadline "
            "passed (door session %s); opening afresh",
            idem.key,
            scope,
            session_id,
        )
        return None

    async def _outcome_of(self, tx: UnitOfWork, session: DoorSession, actor: str) -> OpenResult:
        """The result of an unsettled session the locker acted on, with the audit entry the
        lost recording would have written."""
        outcome = session.outcome or OpenOutcome.UNLOCKED
        if session.state in _ACTED:
            await audit_open(tx, session, actor, source="unlock", outcome=outcome)
        parcel = await tx.parcels.get_by_uid(session.parcel_uid or "")
        state = parcel.state if parcel else ParcelState.CANCELLED
        return OpenResult(
            outcome, session.purpose, session.locker_id, session.compartment_code, state
        )

    async def _start(self, tx: UnitOfWork, parcel: Parcel, purpose: OpenPurpose) -> DoorSession:
        if parcel.compartment_code is None:
            raise IllegalTransition(f"parcel {parcel.parcel_id} holds no compartment")
        session = await tx.doors.start(
            locker_id=parcel.locker_id,
            compartment_code=parcel.compartment_code,
            parcel_uid=parcel.uid,
            purpose=purpose,
            deadline=self._clock() + self._open_timeout,
        )
        # Delivery requirements: a pickup's age/identity check goes out with the unlock.
        check = check_for(parcel, purpose)
        return session if check is None else replace(session, pickup_check=check)

    async def _finish(self, session: DoorSession, actor: str) -> OpenResult:
        outcome = await self._operate(session)
        try:
            async with self._store.transaction() as tx:
                result = await self._record(tx, session, outcome, actor)
        except OpenLockerError as err:
            # The locker has answered but the database would not take the outcome (an
            # outage, a collision). The door may stand open: to a caller this must read like
            # a lost reply, never like "did not open" — a keypad code given back would open
            # the door a second time (found by the long chaos run). The session stays live,
            # so the locker's own door events settle it.
            log.warning(
                "unlock %s/%s (door session %d): the locker answered %s but it could not be "
                "recorded (%s); the session stays open until the locker reports the door",
                session.locker_id,
                session.compartment_code,
                session.id,
                outcome,
                err,
            )
            raise OperationTimeout(
                f"locker {session.locker_id} answered {outcome} but the gateway could not "
                "record it; the door events will"
            ) from err
        self._log(session, outcome)
        return result

    async def _operate(
        self, session: DoorSession, *, release: tuple[str, str] | None = None
    ) -> OpenOutcome:
        """The adapter call. On a failure that proves nothing opened, the session ends and the
        claimed key (`release`: carrier, key) is given back in one transaction: a retry may try.

        A timeout or a cancellation (the gateway stopping, the caller gone) once the command
        may be out proves nothing: the locker may be opening the door right now. A claimed key
        then stays claimed and its session live, exactly as if the gateway had been killed, so
        a retry is settled by `_unsettled` (the door's real outcome, or afresh only after the
        deadline and its grace) instead of sending a second unlock."""
        sent = False
        try:
            adapter = await self._adapters.for_locker(session.locker_id)
            sent = True
            # The adapter honours the deadline; the outer bound keeps a faulty adapter from
            # ever making a carrier's request hang.
            return await asyncio.wait_for(
                open_door(adapter, session, session.pickup_check),
                self._open_timeout.total_seconds() + 1.0,
            )
        except BaseException as err:
            uncertain = (asyncio.CancelledError, TimeoutError, OperationTimeout)
            if sent and isinstance(err, uncertain):
                # Also without a key (a keypad code, an operator): ended here, the session
                # would leave the door's real open and close "outside a session", and the
                # parcel would never move although its compartment was used (found by the
                # chaos run: tests/chaos/test_found_bugs.py).
                log.warning(
                    "unlock %s/%s (door session %d): no answer (%r); the session stays open "
                    "until the locker reports the door or its deadline passes%s",
                    session.locker_id,
                    session.compartment_code,
                    session.id,
                    err,
                    "" if release is None else f"; Idempotency-Key {release[1]} stays claimed",
                )
                if isinstance(err, TimeoutError):
                    raise OperationTimeout(
                        f"locker {session.locker_id} did not confirm the unlock in time"
                    ) from err
                raise
            async with self._store.transaction() as tx:
                await tx.doors.failed(session.id, None, self._clock())
                if release is not None:
                    await tx.idempotency.release(*release)
            if isinstance(err, TimeoutError):
                raise OperationTimeout(
                    f"locker {session.locker_id} did not confirm the unlock in time"
                ) from err
            raise

    async def _record(
        self, tx: UnitOfWork, session: DoorSession, outcome: OpenOutcome, actor: str
    ) -> OpenResult:
        """The locker's outcome, its audit entry and (jammed) the parcel's transition."""
        # The parcel's state rides back with the session's update: no read of its own.
        recorded = await tx.doors.record_answer(session.id, outcome, self._clock())
        if outcome in (OpenOutcome.UNLOCKED, OpenOutcome.ALREADY_OPEN):
            await audit_open(tx, session, actor, source="unlock", outcome=outcome)
        if outcome is OpenOutcome.DOOR_JAMMED:
            await jammed(tx, self._parcels, session)
            recorded = None  # the jam moved the parcel: read it as it is now
        if recorded is None:  # or the door's event had moved the session on first
            parcel = await tx.parcels.get_by_uid(session.parcel_uid or "")
            state = parcel.state if parcel else ParcelState.CANCELLED
        else:
            state = recorded.parcel_state or ParcelState.CANCELLED
        return OpenResult(
            outcome, session.purpose, session.locker_id, session.compartment_code, state
        )

    @staticmethod
    def _log(session: DoorSession, outcome: OpenOutcome) -> None:
        log.info(
            "unlock %s/%s for %s: %s",
            session.locker_id,
            session.compartment_code,
            session.purpose,
            outcome,
        )


def _purpose(parcel: Parcel) -> OpenPurpose:
    purpose = PURPOSE_FOR_STATE.get(parcel.state)
    if purpose is None:
        raise IllegalTransition(
            f"a parcel that is {parcel.state} has no door to open",
            details={"state": str(parcel.state)},
        )
    return purpose
