"""Courier sessions: a courier opens a round at a locker and gets one code; each time it is
typed on the locker's keypad the gateway opens the next door of the round (the carrier's
deposits there first, then the parcels to take back), until the carrier closes the session.

The code is 10 digits (parcel codes are 8), shown once and kept as a keyed hash like a parcel
code; asking again replaces it (no Idempotency-Key: a stored answer would keep it in clear).
Which door comes next is decided in the keypad entry's own transaction with the session row
locked, so two entries at once never open one door twice; each parcel's door opens once per
session, and a door that did not open is offered again.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from gateway.clock import Clock
from gateway.domain.audit import AuditAction
from gateway.domain.courier import (
    COLLECT_STATES,
    SESSION_CODE_DIGITS,
    CourierSession,
    CourierTask,
    ItemStatus,
    ManifestLine,
    RoundItem,
    SessionDoor,
    SessionState,
    next_in_order,
    round_items,
    session_ttl,
    task_for,
)
from gateway.domain.door import OpenOutcome, OpenPurpose
from gateway.domain.enums import ParcelState
from gateway.domain.parcel import Parcel
from gateway.domain.webhooks import WebhookEventType
from gateway.errors import (
    AlreadyExists,
    CompartmentAlarmed,
    ConcurrentUpdate,
    IllegalTransition,
    NotFound,
    OpenLockerError,
    OperationTimeout,
    ValidationFailed,
)
from gateway.service.alarmed_doors import move_off_alarm
from gateway.service.codes import CodeService
from gateway.service.collection_manifest import lines_in
from gateway.service.courier_events import record_session_event
from gateway.service.idempotency import Answered, Idempotent, run_idempotent
from gateway.service.out_of_service import deposit_door, held_out
from gateway.service.unlocks import OpenResult, Unlocks
from gateway.store import Store, UnitOfWork
from gateway.tokens.pins import new_pin

log = logging.getLogger(__name__)

# Parcels a round may hold at one locker (a locker bank has far fewer compartments).
MAX_ROUND = 500
_WORK_STATES = (ParcelState.RESERVED, *COLLECT_STATES)
_PURPOSE = {CourierTask.DEPOSIT: OpenPurpose.DEPOSIT, CourierTask.COLLECT: OpenPurpose.COLLECT}
_OPENED = (OpenOutcome.UNLOCKED, OpenOutcome.ALREADY_OPEN)


@dataclass(frozen=True, slots=True)
class SessionCode:
    """The only moment a session code exists in clear: handed to the carrier, never stored."""

    session_id: str
    locker_id: str
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session as the carrier reads it: its state now and every parcel of its round."""

    session: CourierSession
    state: SessionState
    items: list[RoundItem]
    # The locker's collection manifest when the session opened (its event carries it).
    manifest: list[ManifestLine] | None = None


@dataclass(frozen=True, slots=True)
class RoundDoor:
    """What a session code typed at a locker opens: `parcel`'s door for `purpose`, or nothing
    (parcel None) when the round has no door left."""

    session: CourierSession
    parcel: Parcel | None = None
    purpose: OpenPurpose | None = None


class CourierSessions:
    def __init__(self, *, store: Store, codes: CodeService, clock: Clock | None = None) -> None:
        self._store = store
        self._codes = codes
        self._clock = clock or codes.now

    async def open(
        self,
        carrier_id: str,
        locker_id: str,
        *,
        courier_ref: str | None = None,
        ttl: timedelta | None = None,
    ) -> tuple[SessionView, SessionCode]:
        """A new session at `locker_id` with its code. AlreadyExists while the carrier has one
        open there (named in the problem's detail: ask it for a new code, or close it)."""
        try:
            lifetime = session_ttl(ttl)
        except ValueError as err:
            raise ValidationFailed(str(err), details={"pointer": "/ttlSeconds"}) from err
        now = self._clock()
        async with self._store.transaction() as tx:
            if await tx.lockers.get(locker_id) is None:
                raise NotFound(f"no locker {locker_id!r}", details={"lockerId": locker_id})
            # Two opens at once must not both find no session open (PostgreSQL).
            await tx.courier_sessions.lock_locker(locker_id)
            running = await tx.courier_sessions.open_at(carrier_id, locker_id, now)
            if running is not None:
                # Named in the problem's detail: the carrier may ask it for a new code.
                raise AlreadyExists(
                    f"courier session {running.id} is already open at locker {locker_id}",
                    details={"sessionId": running.id},
                )
            session = CourierSession(
                id=f"cs_{secrets.token_urlsafe(12)}",
                carrier_id=carrier_id,
                locker_id=locker_id,
                opened_at=now,
                expires_at=now + lifetime,
                courier_ref=courier_ref,
            )
            for _ in range(10):
                code = new_pin(SESSION_CODE_DIGITS)
                digest = await self._codes.digest(tx, locker_id, code)
                if await tx.courier_sessions.add(session, digest):
                    break
            else:
                raise ConcurrentUpdate("could not find an unused session code; retry")
            manifest, _ = await lines_in(tx, now, carrier_id=carrier_id, locker_id=locker_id)
            view = await self._view(tx, session, now, manifest=manifest)
            await tx.audit.append(
                AuditAction.COURIER_SESSION_OPENED,
                actor=f"carrier:{carrier_id}",
                subject=session.id,
                details={"lockerId": locker_id, "expiresAt": session.expires_at.isoformat()},
            )
            await record_session_event(tx, WebhookEventType.COURIER_SESSION_OPENED, view, at=now)
        return view, SessionCode(session.id, locker_id, code, session.expires_at)

    async def get(self, carrier_id: str, session_id: str) -> SessionView:
        async with self._store.transaction() as tx:
            session = await _own(tx, carrier_id, session_id)
            return await self._view(tx, session, self._clock())

    async def new_code(self, carrier_id: str, session_id: str) -> SessionCode:
        """A new code for an open session; the previous one stops working."""
        now = self._clock()
        async with self._store.transaction() as tx:
            session = await _own(tx, carrier_id, session_id, for_update=True)
            state = session.state(now)
            if state is not SessionState.OPEN:
                raise IllegalTransition(
                    f"courier session {session_id} is {state}", details={"state": state.value}
                )
            for _ in range(10):
                code = new_pin(SESSION_CODE_DIGITS)
                digest = await self._codes.digest(tx, session.locker_id, code)
                if await tx.courier_sessions.set_code(session.id, digest):
                    break
            else:
                raise ConcurrentUpdate("could not find an unused session code; retry")
            await tx.audit.append(
                AuditAction.COURIER_SESSION_CODE,
                actor=f"carrier:{carrier_id}",
                subject=session.id,
                details={"lockerId": session.locker_id},
            )
        return SessionCode(session.id, session.locker_id, code, session.expires_at)

    async def close(
        self, carrier_id: str, session_id: str, request: Idempotent[SessionView]
    ) -> Answered[SessionView]:
        """End the session (its code stops working) and report what the round did; closing a
        closed session answers it as it is. An expired session is closed the same way."""

        async def work(tx: UnitOfWork, now: datetime) -> SessionView:
            session = await _own(tx, carrier_id, session_id, for_update=True)
            if session.closed_at is not None:
                return await self._view(tx, session, now)
            return await self._close_in(tx, session, now, actor=f"carrier:{carrier_id}")

        return await run_idempotent(
            self._store, self._clock, carrier_id, request, work, subject="courier session"
        )

    async def close_lapsed(self, limit: int = 100) -> int:
        """Close the sessions nobody closed once their code stopped working, so the carrier
        still gets courier.session_closed with what the round did; how many (housekeeping)."""
        now = self._clock()
        async with self._store.transaction() as tx:
            lapsed = await tx.courier_sessions.lapsed(now, limit)
        closed = 0
        for session_id in lapsed:
            async with self._store.transaction() as tx:
                session = await tx.courier_sessions.get(session_id, for_update=True)
                if session is None or session.closed_at is not None:
                    continue  # another instance closed it meanwhile
                await self._close_in(tx, session, now, actor="gateway:housekeeping")
                closed += 1
        return closed

    async def _close_in(
        self, tx: UnitOfWork, session: CourierSession, now: datetime, *, actor: str
    ) -> SessionView:
        await tx.courier_sessions.close(session.id, now)
        view = await self._view(tx, replace(session, closed_at=now), now)
        counts = {s.value: sum(1 for i in view.items if i.status is s) for s in ItemStatus}
        await tx.audit.append(
            AuditAction.COURIER_SESSION_CLOSED,
            actor=actor,
            subject=session.id,
            details={"lockerId": session.locker_id, **counts},
        )
        await record_session_event(tx, WebhookEventType.COURIER_SESSION_CLOSED, view, at=now)
        return view

    async def next_door(self, tx: UnitOfWork, locker_id: str, typed: str) -> RoundDoor | None:
        """In a keypad entry's transaction: the door `typed` opens if it is an open session's
        code at this locker (recorded as opened by the round), else None."""
        if not (typed.isascii() and typed.isdigit() and len(typed) == SESSION_CODE_DIGITS):
            return None  # not a session code: no key, no lookup
        now = self._clock()
        digest = await self._codes.digest(tx, locker_id, typed)
        session = await tx.courier_sessions.by_code(locker_id, digest, now)
        if session is None:
            return None
        return await self._next_of(tx, session, now)

    async def open_next(
        self,
        carrier_id: str,
        session_id: str,
        unlocks: Unlocks,
        request: Idempotent[OpenResult],
    ) -> Answered[OpenResult]:
        """The carrier's app opens the next door of the round (a locker without a keypad, a
        courier without the code): at most once per Idempotency-Key, like a remote open, and
        a door that did not open goes back to the round. IllegalTransition once the session
        is closed or expired, or has no door left."""
        chosen: list[str] = []

        async def find(tx: UnitOfWork) -> tuple[Parcel, OpenPurpose]:
            now = self._clock()
            session = await _own(tx, carrier_id, session_id, for_update=True)
            state = session.state(now)
            if state is not SessionState.OPEN:
                raise IllegalTransition(
                    f"courier session {session_id} is {state}", details={"state": state.value}
                )
            door = await self._next_of(tx, session, now)
            if door.parcel is None or door.purpose is None:
                raise IllegalTransition(f"courier session {session_id} has no door left to open")
            chosen.append(door.parcel.uid)
            return door.parcel, door.purpose

        actor = f"carrier:{carrier_id}"
        try:
            answered = await unlocks.open_once(carrier_id, actor, find, request)
        except OperationTimeout:
            raise  # the door may have opened: it stays taken, as for a keypad entry
        except OpenLockerError:
            if chosen:
                await self.give_back(session_id, chosen[-1])
            raise
        result = answered.result
        if result is not None and result.outcome not in _OPENED and chosen:
            await self.give_back(session_id, chosen[-1])
        return answered

    async def _next_of(self, tx: UnitOfWork, session: CourierSession, now: datetime) -> RoundDoor:
        """The next door of the session's round, recorded as opened by it (in `tx`)."""
        done = {door.parcel_uid for door in await tx.courier_sessions.doors(session.id)}
        for parcel in next_in_order(await _work(tx, session), done):
            task = task_for(parcel)
            if task is None or parcel.compartment_code is None:
                continue
            door_read = await deposit_door(tx, parcel, _PURPOSE[task])
            if held_out(door_read):
                continue  # nothing goes into a compartment out of service
            if task is CourierTask.DEPOSIT:
                try:  # a door out of its temperature range: moved, else skipped like one
                    parcel = await move_off_alarm(tx, parcel, _PURPOSE[task], now, door=door_read)
                except CompartmentAlarmed:
                    continue
            where = parcel.compartment_code
            if where is None:
                continue
            door = SessionDoor(session.id, parcel.uid, task, where, now)
            if await tx.courier_sessions.add_door(door):
                return RoundDoor(session, parcel, _PURPOSE[task])
        return RoundDoor(session)

    async def give_back(self, session_id: str, parcel_uid: str) -> None:
        """The door the code chose did not open: the next entry offers it again."""
        async with self._store.transaction() as tx:
            await tx.courier_sessions.forget_door(session_id, parcel_uid)

    async def _view(
        self,
        tx: UnitOfWork,
        session: CourierSession,
        now: datetime,
        *,
        manifest: list[ManifestLine] | None = None,
    ) -> SessionView:
        doors = await tx.courier_sessions.doors(session.id)
        opened = [(door, await tx.parcels.get_by_uid(door.parcel_uid)) for door in doors]
        state = session.state(now)
        # A closed or expired session opens nothing more: what is left is not its work.
        work = await _work(tx, session) if state is SessionState.OPEN else []
        return SessionView(session, state, round_items(work, opened), manifest)


async def _work(tx: UnitOfWork, session: CourierSession) -> list[Parcel]:
    """The carrier's parcels at the session's locker that the round may open a door for."""
    items, _ = await tx.parcels.search(
        carrier_id=session.carrier_id,
        states=_WORK_STATES,
        locker_id=session.locker_id,
        limit=MAX_ROUND,
    )
    return items


async def _own(
    tx: UnitOfWork, carrier_id: str, session_id: str, *, for_update: bool = False
) -> CourierSession:
    session = await tx.courier_sessions.get(session_id, for_update=for_update)
    if session is None or session.carrier_id != carrier_id:
        # Another carrier's session is not there for this one.
        raise NotFound(f"no courier session {session_id!r}")
    return session
