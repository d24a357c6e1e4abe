"""The gateway's half of every door: boot gating, locker events, unlocks and their outcome."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from gateway.clock import Clock, utc_now
from gateway.domain.door import (
    PURPOSE_FOR_STATE,
    DoorSession,
    OpenOutcome,
    OpenPurpose,
    Verdict,
    on_close,
    on_jam,
)
from gateway.domain.enums import DoorState, ItemSensor, ParcelState
from gateway.domain.keypad import KeypadPolicy
from gateway.domain.parcel import Parcel
from gateway.errors import (
    IdempotencyConflict,
    IllegalTransition,
    NotFound,
    OpenLockerError,
    OperationTimeout,
)
from gateway.sdk import (
    AdapterFeatures,
    BootDecision,
    BootInfo,
    BootStatus,
    CodeEntered,
    DoorClosed,
    DoorOpened,
    FaultKind,
    JournalReported,
    LockerEvent,
    LockerFault,
    PresenceChanged,
    SupportsDisplay,
)
from gateway.service.adapters import AdapterDirectory
from gateway.service.codes import CodeService
from gateway.service.door_audit import audit_open, audit_unasked_open
from gateway.service.event_order import EventGap, EventOrder
from gateway.service.grant_doors import grant_opened
from gateway.service.idempotency import IdempotencyKey, JsonBody, claim
from gateway.service.keypad import KeypadVerdict, try_code
from gateway.service.parcels import ParcelService
from gateway.store import IdempotencyRace, Store, UnitOfWork
from gateway.wire import OpenResultOut, dump

log = logging.getLogger(__name__)
# A display message is feedback for a person waiting at the keypad: late is useless.
DISPLAY_DEADLINE = timedelta(seconds=2)


@dataclass(frozen=True, slots=True)
class OpenResult:
    outcome: OpenOutcome
    purpose: OpenPurpose
    locker_id: str
    compartment_code: str
    parcel_state: ParcelState


class DoorService:
    # Told of every accepted Boot (locker id, key-set version it reported): key distribution.
    on_booted: Callable[[str, int | None], None] | None = None

    def __init__(
        self,
        *,
        store: Store,
        parcels: ParcelService,
        codes: CodeService,
        adapters: AdapterDirectory,
        open_timeout: timedelta = timedelta(seconds=10),
        heartbeat_interval_s: int = 60,
        keypad_policy: KeypadPolicy | None = None,
        event_order: EventOrder | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._order = event_order or EventOrder(store=store, adapters=adapters, clock=clock)
        self._keypad_policy = keypad_policy or KeypadPolicy()
        self._parcels = parcels
        self._codes = codes
        self._adapters = adapters
        self._open_timeout = open_timeout
        self._heartbeat_s = heartbeat_interval_s
        self._clock = clock

    # ---- AdapterHost ---------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock()

    async def authorize_boot(self, locker_id: str, info: BootInfo) -> BootDecision:
        async with self._store.transaction() as tx:
            if await tx.lockers.get(locker_id) is None:
                log.warning("boot of unknown locker %s rejected", locker_id)
                return BootDecision(BootStatus.REJECTED, self._heartbeat_s, "unknown locker")
            known = {c.code for c in await tx.lockers.compartments(locker_id)}
            extra = sorted({c.code for c in info.compartments} - known)
            if extra:
                log.warning("locker %s reports unprovisioned compartments %s", locker_id, extra)
            details = {"vendor": info.vendor, "model": info.model, "serial": info.serial_number}
            await tx.sessions.mark_booted(locker_id, self._clock(), info.firmware, details)
            await tx.sessions.set_key_set_version(locker_id, info.key_set_version)
        log.info("locker %s booted (firmware %s)", locker_id, info.firmware)
        if self.on_booted is not None:
            self.on_booted(locker_id, info.key_set_version)
        return BootDecision(BootStatus.ACCEPTED, self._heartbeat_s)

    async def locker_event(self, event: LockerEvent) -> None:
        # Interim: the event pipeline (issue 11) replaces this with retries and parking.
        await self.handle(event)

    async def is_booted(self, locker_id: str) -> bool:
        async with self._store.transaction() as tx:
            session = await tx.sessions.get(locker_id)
        return session is not None and session.booted

    # ---- unlocks -------------------------------------------------------------------------

    async def remote_open_once(
        self, carrier_id: str, parcel_id: str, idem: IdempotencyKey
    ) -> JsonBody:
        """`remote_open` at most once per Idempotency-Key: the key is claimed before the
        command goes out, so a retry can never open a door a second time."""
        try:
            async with self._store.transaction() as tx:
                prior = await claim(tx, carrier_id, idem)
        except IdempotencyRace as err:
            raise IdempotencyConflict(
                "the first request with this Idempotency-Key is still running"
            ) from err
        if prior is not None:
            return prior
        try:
            result = await self.remote_open(carrier_id, parcel_id)
        except BaseException:
            # Nothing opened (or the command expired unexecuted): a retry may try again.
            async with self._store.transaction() as tx:
                await tx.idempotency.release(carrier_id, idem.key)
            raise
        body = dump(
            OpenResultOut(
                outcome=result.outcome,
                purpose=result.purpose,
                locker_id=result.locker_id,
                compartment_code=result.compartment_code,
                parcel_state=result.parcel_state,
            )
        )
        async with self._store.transaction() as tx:
            await tx.idempotency.replace(carrier_id, idem.key, body)
        return body

    async def remote_open(self, carrier_id: str, parcel_id: str) -> OpenResult:
        """A carrier opens its parcel's door; answers the locker's real outcome or a timeout."""
        async with self._store.transaction() as tx:
            parcel = await tx.parcels.get(carrier_id, parcel_id)
        if parcel is None:
            raise NotFound(f"no parcel {parcel_id!r}")
        return await self.open_for(parcel, _purpose(parcel))

    async def open_for(
        self, parcel: Parcel, purpose: OpenPurpose, *, actor: str | None = None
    ) -> OpenResult:
        """Unlock the parcel's door; `actor` (audit trail) defaults to the parcel's carrier."""
        if parcel.compartment_code is None:
            raise IllegalTransition(f"parcel {parcel.parcel_id} holds no compartment")
        adapter = await self._adapters.for_locker(parcel.locker_id)
        deadline = self._clock() + self._open_timeout
        async with self._store.transaction() as tx:
            session = await tx.doors.start(
                locker_id=parcel.locker_id,
                compartment_code=parcel.compartment_code,
                parcel_uid=parcel.uid,
                purpose=purpose,
                deadline=deadline,
            )
        try:
            # The adapter honours the deadline; the outer bound keeps a faulty adapter from
            # ever making a carrier's request hang.
            outcome = await asyncio.wait_for(
                adapter.open_compartment(
                    parcel.locker_id, parcel.compartment_code, purpose=purpose, deadline=deadline
                ),
                self._open_timeout.total_seconds() + 1.0,
            )
        except (TimeoutError, OpenLockerError) as err:
            async with self._store.transaction() as tx:
                await tx.doors.failed(session.id, None, self._clock())
            if isinstance(err, TimeoutError):
                raise OperationTimeout(
                    f"locker {parcel.locker_id} did not confirm the unlock in time"
                ) from err
            raise
        state = await self._record_outcome(
            session, outcome, actor or f"carrier:{parcel.carrier_id}"
        )
        return OpenResult(outcome, purpose, parcel.locker_id, parcel.compartment_code, state)

    async def _record_outcome(
        self, session: DoorSession, outcome: OpenOutcome, actor: str
    ) -> ParcelState:
        async with self._store.transaction() as tx:
            now = self._clock()
            if outcome in (OpenOutcome.UNLOCKED, OpenOutcome.ALREADY_OPEN):
                await tx.doors.opened(session.id, outcome, now)
                await audit_open(tx, session, actor, source="unlock", outcome=outcome)
            else:
                await tx.doors.failed(session.id, outcome, now)
            if outcome is OpenOutcome.DOOR_JAMMED:
                await self._jammed(tx, session)
            parcel = await tx.parcels.get_by_uid(session.parcel_uid or "")
        log.info(
            "unlock %s/%s for %s: %s",
            session.locker_id,
            session.compartment_code,
            session.purpose,
            outcome,
        )
        return parcel.state if parcel else ParcelState.CANCELLED

    # ---- events from lockers -------------------------------------------------------------

    async def handle(self, event: LockerEvent) -> None:
        """Act on one locker event exactly once and in the locker's journal order, whichever
        instance receives it (SPEC §9 "Event order and reconciliation")."""
        if isinstance(event, JournalReported):
            await self._order.reported(event)
            return
        try:
            await self._handle_in_order(event)
        except EventGap as gap:
            await self._order.gap(gap)

    async def _handle_in_order(self, event: LockerEvent) -> None:
        if isinstance(event, CodeEntered):
            await self._code_entered(event)
            return
        async with self._store.transaction() as tx:
            if not await self._order.admit(tx, event):
                return
            if not await tx.inbox.first_time(event.locker_id, event.event_id):
                return
            if isinstance(event, PresenceChanged):
                await tx.sessions.set_online(event.locker_id, event.online, event.at)
            elif isinstance(event, DoorOpened):
                await self._door_opened(tx, event)
            elif isinstance(event, DoorClosed):
                await self._door_closed(tx, event)
            elif isinstance(event, LockerFault):
                await self._fault(tx, event)

    async def _door_opened(self, tx: UnitOfWork, event: DoorOpened) -> None:
        if event.grant is not None:
            # The locker verified a grant offline and opened the door itself.
            if await grant_opened(tx, event, event.grant) is None:
                # Refused, yet the door stood open: the trail must show that too.
                await audit_unasked_open(tx, event.locker_id, event.compartment_code)
            await _set_door(tx, event.locker_id, event.compartment_code, door=DoorState.OPEN)
            return
        session = await tx.doors.live(event.locker_id, event.compartment_code)
        if session is not None:
            await tx.doors.opened(session.id, None, event.at)
            await audit_open(tx, session, f"locker:{event.locker_id}", source="sensor")
        else:
            # Events of different topics may overtake each other: an "opened" older than the
            # close that ended the last session is stale and must not reopen the door.
            last = await tx.doors.latest(event.locker_id, event.compartment_code)
            if last is not None and last.closed_at is not None and event.at <= last.closed_at:
                log.info(
                    "stale DoorOpened for %s/%s ignored", event.locker_id, event.compartment_code
                )
                return
            await audit_unasked_open(tx, event.locker_id, event.compartment_code)
        await _set_door(tx, event.locker_id, event.compartment_code, door=DoorState.OPEN)

    async def _door_closed(self, tx: UnitOfWork, event: DoorClosed) -> None:
        await _set_door(
            tx, event.locker_id, event.compartment_code, door=DoorState.CLOSED, item=event.item
        )
        session = await tx.doors.live(event.locker_id, event.compartment_code)
        if session is None:
            log.info("door %s/%s closed outside a session", event.locker_id, event.compartment_code)
            return
        await tx.doors.closed(session.id, event.item, event.at)
        await self._apply_verdict(tx, session, on_close(session.purpose, event.item))

    async def _fault(self, tx: UnitOfWork, event: LockerFault) -> None:
        log.warning(
            "locker %s fault %s on %s: %s",
            event.locker_id,
            event.fault,
            event.compartment_code or "-",
            event.description or "",
        )
        if event.fault is not FaultKind.DOOR_JAMMED or event.compartment_code is None:
            return
        session = await tx.doors.live(event.locker_id, event.compartment_code)
        if session is not None:
            await tx.doors.failed(session.id, OpenOutcome.DOOR_JAMMED, event.at)
            await self._jammed(tx, session)
        else:
            await _set_door(tx, event.locker_id, event.compartment_code, door=DoorState.JAMMED)

    async def _jammed(self, tx: UnitOfWork, session: DoorSession) -> None:
        await self._apply_verdict(tx, session, on_jam(session.purpose))
        compartment = await tx.lockers.compartment(session.locker_id, session.compartment_code)
        if compartment is not None:
            jammed = replace(compartment.disable(), door=DoorState.JAMMED)
            await tx.lockers.save_compartment(compartment, jammed)

    async def _apply_verdict(self, tx: UnitOfWork, session: DoorSession, verdict: Verdict) -> None:
        if verdict.action is None or session.parcel_uid is None:
            log.info("door %s/%s: %s", session.locker_id, session.compartment_code, verdict.reason)
            return
        parcel = await tx.parcels.get_by_uid(session.parcel_uid, for_update=True)
        if parcel is None:
            return
        try:
            await self._parcels.apply_in(
                tx,
                parcel,
                verdict.action,
                fault=verdict.fault,
                details={"doorSession": session.id, "reason": verdict.reason},
            )
        except IllegalTransition as err:
            # The parcel moved on meanwhile (e.g. cancelled): the door event changes nothing.
            log.warning("door event for parcel %s ignored: %s", parcel.parcel_id, err)

    async def _code_entered(self, event: CodeEntered) -> None:
        async with self._store.transaction() as tx:
            if not await self._order.admit(tx, event):
                return
            if not await tx.inbox.first_time(event.locker_id, event.event_id):
                return
            entry = await try_code(
                tx,
                codes=self._codes,
                policy=self._keypad_policy,
                locker_id=event.locker_id,
                typed=event.code,
            )
        if entry.lockout is not None:
            # The SecurityEvent: this log line, the keypad.lockout audit entry (what
            # `openlocker audit show --action keypad.lockout` lists) and the locker's display.
            log.warning(
                "SecurityEvent: keypad of locker %s locked until %s (lockout %d in a row)",
                event.locker_id,
                entry.lockout.until.isoformat(),
                entry.lockout.number,
            )
        code, parcel = entry.code, entry.parcel
        if entry.verdict is not KeypadVerdict.ACCEPTED or code is None or parcel is None:
            log.warning("locker %s: code %s", event.locker_id, entry.verdict)
            locked = entry.verdict is KeypadVerdict.LOCKED_OUT or entry.lockout is not None
            await self._show(event.locker_id, "LockedOut" if locked else "CodeRejected")
            return
        try:
            result = await self.open_for(parcel, code.purpose, actor=f"locker:{event.locker_id}")
        except OpenLockerError:
            await self._give_back(code.id)
            raise
        if result.outcome not in (OpenOutcome.UNLOCKED, OpenOutcome.ALREADY_OPEN):
            await self._give_back(code.id)

    async def _show(self, locker_id: str, message: str) -> None:
        """Tell the person at the keypad, where the locker has a display; best effort."""
        adapter = await self._adapters.for_locker(locker_id)
        if AdapterFeatures.DISPLAY not in adapter.features or not isinstance(
            adapter, SupportsDisplay
        ):
            return
        try:
            await adapter.display(locker_id, message, self._clock() + DISPLAY_DEADLINE)
        except OpenLockerError as err:
            log.info("locker %s did not show %s: %s", locker_id, message, err)

    async def _give_back(self, code_id: int) -> None:
        async with self._store.transaction() as tx:
            await tx.codes.restore(code_id)


def _purpose(parcel: Parcel) -> OpenPurpose:
    purpose = PURPOSE_FOR_STATE.get(parcel.state)
    if purpose is None:
        raise IllegalTransition(
            f"a parcel that is {parcel.state} has no door to open",
            details={"state": str(parcel.state)},
        )
    return purpose


async def _set_door(
    tx: UnitOfWork,
    locker_id: str,
    code: str,
    *,
    door: DoorState,
    item: ItemSensor | None = None,
) -> None:
    before = await tx.lockers.compartment(locker_id, code)
    if before is None:
        log.warning("locker %s reports unknown compartment %s", locker_id, code)
        return
    after = replace(before, door=door, item=item if item is not None else before.item)
    if after != before:
        await tx.lockers.save_compartment(before, after)
