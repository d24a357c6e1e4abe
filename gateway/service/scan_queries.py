"""Query on scan: a courier scanned a parcel id at a locker; where does it go?

The locker asks (OLP `ScanParcel`, through its adapter's `AdapterHost.scan_parcel`); one
transaction decides and audits the answer:

- a parcel pre-advised for this locker and waiting for its deposit is Accepted into its
  compartment (an announced one takes a compartment now, as at the door);
- a parcel never pre-advised belongs to the carrier whose courier round is open at the locker
  (its courier is the one scanning); that carrier's scan policy (else the network's) refuses
  it, or books it here into a free compartment of the scanned size to wait for the carrier's
  confirmation (`hold`): its pickup window is the confirmation window, its first history event
  says it came in on a scan, and the carrier hears of it through its usual parcel events;
- anything else is Refused with a reason for the locker's display.

After an Accepted answer the compartment is opened for the deposit through Unlocks (a door
session, so the courier's DoorClosed completes the deposit as for any other parcel). The open
runs beside the adapter's reply, never in the locker's lane.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.domain.courier import CourierTask, SessionDoor
from gateway.domain.door import OpenOutcome, OpenPurpose
from gateway.domain.enums import ParcelAction, ParcelState, SizeClass
from gateway.domain.parcel import Parcel
from gateway.domain.scan import (
    DEFAULT_SCAN_SIZE,
    ScanAnswer,
    ScanDecision,
    ScanPolicy,
    ScanQuery,
    ScanRefusal,
    ScanRules,
    known_parcel_refusal,
)
from gateway.domain.sizes import SizeRequirement
from gateway.errors import (
    AlreadyExists,
    ConcurrentUpdate,
    IllegalTransition,
    NoCompartmentAvailable,
    OpenLockerError,
    RequirementNotMet,
)
from gateway.sdk.connectors import ScanVerdict
from gateway.service.out_of_service import refuse_into_out_of_service
from gateway.service.parcels import NewParcel, ParcelService
from gateway.service.scan_asks import Asked, ScanAsker
from gateway.service.unlocks import Unlocks
from gateway.store import Store, UnitOfWork

log = logging.getLogger(__name__)

# A decision that lost a race (the parcel or a compartment changed meanwhile; on PostgreSQL,
# the same label scanned at another locker booked first) is made again from a fresh read.
ATTEMPTS = 3


class ScanQueries:
    def __init__(
        self,
        *,
        store: Store,
        parcels: ParcelService,
        unlocks: Unlocks,
        rules: ScanRules | None = None,
        clock: Clock = utc_now,
        asker: ScanAsker | None = None,
    ) -> None:
        self._store = store
        self._parcels = parcels
        self._unlocks = unlocks
        self.rules = rules or ScanRules()
        # Policy `ask`: the carrier's scan-query connector (None: every ask falls back).
        self.asker = asker
        self._clock = clock
        self._opening: set[asyncio.Task[None]] = set()

    async def answer(self, query: ScanQuery) -> ScanAnswer:
        """Decide (one transaction, audited), then open an accepted parcel's door beside.

        Policy `ask`: the decision's transaction stops (rolled back, nothing written yet) when
        the carrier must be asked; the carrier is asked outside any transaction, then the
        decision is made again from a fresh read with its answer.
        """
        asked: dict[str, Asked] = {}
        attempt = 0
        while True:
            try:
                async with self._store.transaction() as tx:
                    answer, parcel = await self._decide(tx, query, self._clock(), asked)
                    await _audit(tx, query, answer, parcel, asked)
                break
            except _MustAsk as must:
                asked[must.carrier_id] = await self._ask(must.carrier_id, query)
            except (ConcurrentUpdate, AlreadyExists):
                attempt += 1
                if attempt == ATTEMPTS:
                    raise
        log.info(
            "locker %s: scan of %s %s%s",
            query.locker_id,
            query.parcel_id,
            answer.decision,
            f" ({answer.reason})" if answer.reason else f" into {answer.compartment_code}",
        )
        if parcel is not None:
            self._open_beside(parcel, query.locker_id)
        return answer

    async def _leave_round(self, parcel: Parcel) -> None:
        """The door did not open: the round shows the deposit pending again (courier rounds
        do the same, gateway/service/courier_sessions.py `give_back`)."""
        try:
            async with self._store.transaction() as tx:
                rounds = await tx.scans.rounds_at(parcel.locker_id, self._clock())
                for session_id, carrier_id in rounds:
                    if carrier_id == parcel.carrier_id:
                        await tx.courier_sessions.forget_door(session_id, parcel.uid)
        except OpenLockerError as err:  # the database is down: the round shows it opened
            log.warning("round of %s not updated after a failed open: %s", parcel.parcel_id, err)

    async def _ask(self, carrier_id: str, query: ScanQuery) -> Asked:
        if self.asker is None:
            return Asked(carrier_id, None, "this gateway asks no carrier")
        return await self.asker.ask(carrier_id, query)

    async def settle(self) -> None:
        """Wait for the door opens still running (shutdown, tests)."""
        while self._opening:
            await asyncio.gather(*self._opening, return_exceptions=True)

    async def _decide(
        self, tx: UnitOfWork, query: ScanQuery, now: datetime, asked: dict[str, Asked]
    ) -> tuple[ScanAnswer, Parcel | None]:
        known = await tx.scans.parcels_with_id(query.parcel_id)
        rounds = await tx.scans.rounds_at(query.locker_id, now)
        in_round = [carrier_id for _, carrier_id in rounds]
        if known:
            answer, parcel = await self._known(tx, query, _pick(known, query.locker_id, in_round))
        elif not rounds:
            return ScanAnswer.refused(query.parcel_id, ScanRefusal.NO_CARRIER), None
        else:
            carrier_id = rounds[0][1]
            policy, size = self.rules.policy_for(carrier_id), query.size_class
            if policy is ScanPolicy.ASK:
                if carrier_id not in asked:
                    raise _MustAsk(carrier_id)
                policy, size = self._after_ask(asked[carrier_id], size)
            if policy is ScanPolicy.REFUSE:
                return ScanAnswer.refused(query.parcel_id, ScanRefusal.POLICY_REFUSED), None
            answer, parcel = await self._take_in(
                tx, query, carrier_id, now, size, asked.get(carrier_id)
            )
        if parcel is not None:
            await _join_round(tx, parcel, rounds, now)
        return answer, parcel

    async def _known(
        self, tx: UnitOfWork, query: ScanQuery, parcel: Parcel
    ) -> tuple[ScanAnswer, Parcel | None]:
        refusal = known_parcel_refusal(parcel, query.locker_id)
        if refusal is not None:
            return ScanAnswer.refused(query.parcel_id, refusal), None
        if parcel.state is ParcelState.ANNOUNCED:
            # Pre-advised without a compartment: it takes one now, as at the door.
            try:
                async with tx.savepoint():
                    parcel = await self._parcels.apply_in(tx, parcel, ParcelAction.RESERVE)
            except (NoCompartmentAvailable, RequirementNotMet):
                # None free now, or none meets its delivery requirements (item 4).
                return ScanAnswer.refused(query.parcel_id, ScanRefusal.NO_COMPARTMENT), None
        try:
            await refuse_into_out_of_service(tx, parcel, OpenPurpose.DEPOSIT)
        except IllegalTransition:
            return ScanAnswer.refused(query.parcel_id, ScanRefusal.OUT_OF_SERVICE), None
        assert parcel.compartment_code is not None  # reserved
        return ScanAnswer.accepted(query.parcel_id, parcel.compartment_code, unadvised=False), (
            parcel
        )

    def _after_ask(
        self, asked: Asked, size: SizeClass | None
    ) -> tuple[ScanPolicy, SizeClass | None]:
        """The carrier's answer as refuse or hold (and the size: the courier's choice at the
        locker first, else the carrier's); no usable answer: `ask_fallback`."""
        answer = asked.answer
        if answer is None or answer.verdict is ScanVerdict.UNKNOWN:
            return self.rules.ask_fallback, size
        if answer.verdict is ScanVerdict.REFUSE:
            return ScanPolicy.REFUSE, size
        carrier_size = None if answer.size_class is None else SizeClass(answer.size_class)
        return ScanPolicy.HOLD, size or carrier_size

    async def _take_in(
        self,
        tx: UnitOfWork,
        query: ScanQuery,
        carrier_id: str,
        now: datetime,
        size_class: SizeClass | None,
        asked: Asked | None,
    ) -> tuple[ScanAnswer, Parcel | None]:
        """Policy `hold` (or the carrier's accept): book the parcel here for its carrier, to
        wait for confirmation."""
        size = size_class or DEFAULT_SCAN_SIZE
        details: dict[str, Any] = {
            "by": "scan",
            "unadvised": True,
            "lockerId": query.locker_id,
            "sizeClass": str(size),
        }
        if asked is not None:
            # The carrier's own answer ("accept"), or "none" when the fallback took it in.
            details["carrierAnswer"] = "none" if asked.answer is None else str(asked.answer.verdict)
        cmd = NewParcel(
            carrier_id=carrier_id,
            parcel_id=query.parcel_id,
            locker_id=query.locker_id,
            need=SizeRequirement(size_class=size),
            reserve=True,
            pickup_window=self.rules.confirm_window,
            announced_details=details,
        )
        try:
            async with tx.savepoint():
                parcel = await self._parcels.book_in(tx, cmd, now)
        except NoCompartmentAvailable:
            return ScanAnswer.refused(query.parcel_id, ScanRefusal.NO_COMPARTMENT), None
        assert parcel.compartment_code is not None  # booked with reserve
        return ScanAnswer.accepted(query.parcel_id, parcel.compartment_code, unadvised=True), (
            parcel
        )

    def _open_beside(self, parcel: Parcel, locker_id: str) -> None:
        task = asyncio.create_task(self._open(parcel, locker_id), name=f"scan-open-{parcel.uid}")
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    async def _open(self, parcel: Parcel, locker_id: str) -> None:
        try:
            result = await self._unlocks.open_for(
                parcel, OpenPurpose.DEPOSIT, actor=f"locker:{locker_id}"
            )
        except OpenLockerError as err:
            # Expected (the locker went offline, no answer in time): one line. The reservation
            # stays: the courier scans again, types the round's code, or the carrier opens.
            log.warning(
                "locker %s: opening %s for the scanned parcel %s failed: %s",
                locker_id,
                parcel.compartment_code,
                parcel.parcel_id,
                err,
            )
            await self._leave_round(parcel)
            return
        except Exception:
            log.exception(
                "locker %s: opening %s for the scanned parcel %s failed",
                locker_id,
                parcel.compartment_code,
                parcel.parcel_id,
            )
            await self._leave_round(parcel)
            return
        if result.outcome is not OpenOutcome.UNLOCKED:
            await self._leave_round(parcel)
        log.info(
            "locker %s: %s opened for the scanned parcel %s: %s",
            locker_id,
            parcel.compartment_code,
            parcel.parcel_id,
            result.outcome,
        )


async def _join_round(
    tx: UnitOfWork, parcel: Parcel, rounds: list[tuple[str, str]], now: datetime
) -> None:
    """A parcel accepted while its carrier's courier round is open here is that round's
    deposit: the session reads it as opened, then done (or failed) with its door."""
    session_id = next((sid for sid, carrier in rounds if carrier == parcel.carrier_id), None)
    if session_id is None or parcel.compartment_code is None:
        return
    door = SessionDoor(session_id, parcel.uid, CourierTask.DEPOSIT, parcel.compartment_code, now)
    await tx.courier_sessions.add_door(door)


def _pick(known: list[Parcel], locker_id: str, in_round: list[str]) -> Parcel:
    """The parcel a scan means among those with its id: one of this locker first, then one of
    a carrier whose courier is here, newest first (the list's order)."""

    def rank(parcel: Parcel) -> tuple[bool, bool]:
        return (parcel.locker_id != locker_id, parcel.carrier_id not in in_round)

    return min(known, key=rank)


class _MustAsk(Exception):
    """The decision needs the carrier's answer first (policy `ask`): asked outside the
    transaction, then decided again."""

    def __init__(self, carrier_id: str) -> None:
        super().__init__(carrier_id)
        self.carrier_id = carrier_id


async def _audit(
    tx: UnitOfWork,
    query: ScanQuery,
    answer: ScanAnswer,
    parcel: Parcel | None,
    asked: dict[str, Asked] | None = None,
) -> None:
    details: dict[str, Any] = {"parcelId": query.parcel_id, "decision": str(answer.decision)}
    if answer.decision is ScanDecision.ACCEPTED:
        details |= {"compartmentCode": answer.compartment_code, "unadvised": answer.unadvised}
    else:
        details["reason"] = str(answer.reason)
    if parcel is not None:
        details["carrierId"] = parcel.carrier_id
    if asked:
        details["asked"] = [a.details() for a in asked.values()]
    await tx.audit.append(
        AuditAction.PARCEL_SCANNED,
        actor=f"locker:{query.locker_id}",
        subject=parcel.uid if parcel is not None else query.locker_id,
        details=details,
    )
