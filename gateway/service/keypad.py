"""A code typed at a locker's keypad: attempt limits first, then the code, then the audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from gateway.clock import Clock, utc_now
from gateway.domain.audit import AuditAction
from gateway.domain.door import PURPOSE_FOR_STATE
from gateway.domain.keypad import KeypadPolicy, Lockout, LockoutReason
from gateway.domain.parcel import Parcel
from gateway.domain.webhooks import WebhookEventType
from gateway.errors import CompartmentAlarmed, IllegalTransition, NotFound, ValidationFailed
from gateway.service.alarmed_doors import move_off_alarm
from gateway.service.bundles import bundle_doors
from gateway.service.codes import CodeService
from gateway.service.keypad_events import record_keypad_event
from gateway.service.out_of_service import deposit_door, held_out
from gateway.store import Store, UnitOfWork
from gateway.store.access_codes import AccessCode

if TYPE_CHECKING:
    from gateway.service.courier_sessions import CourierSessions, RoundDoor


class KeypadVerdict(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    LOCKED_OUT = "locked-out"
    # A right code to put a parcel into a compartment an operator (or a door fault) took out
    # of service: nothing goes in; not a guess (no failure counted), the code stays usable.
    OUT_OF_SERVICE = "out-of-service"
    # Typed longer ago than `KeypadPolicy.entry_max_age` (a replayed journal, a gateway that
    # was down): nobody waits at the door any more. Not a guess, the code stays usable.
    STALE = "stale"
    # A courier session's code whose round has no door left to open: not a guess either.
    ROUND_DONE = "round-done"
    # A right code to put a parcel into a compartment whose temperature is out of range, and
    # no other free compartment meets its requirements: nothing goes in (the cold chain is
    # kept); not a guess, the code stays usable.
    COMPARTMENT_ALARMED = "compartment-alarmed"


@dataclass(frozen=True, slots=True)
class KeypadOutcome:
    """What to do with one code entry: open `parcel`'s door for `code` only if accepted."""

    verdict: KeypadVerdict
    code: AccessCode | None = None
    parcel: Parcel | None = None
    lockout: Lockout | None = None
    # A courier session's code (no `code`): the door of its round it opens, if any.
    round: RoundDoor | None = None
    # A bundle's code (gateway/service/bundles.py): every door it opens, no `parcel`.
    bundle: tuple[Parcel, ...] = ()


async def try_code(
    tx: UnitOfWork,
    *,
    codes: CodeService,
    policy: KeypadPolicy,
    locker_id: str,
    typed: str,
    rounds: CourierSessions | None = None,
) -> KeypadOutcome:
    """Decide one keypad entry inside `tx` and audit it (never the digits themselves).

    While the keypad is locked the code is not even looked up: an answer of any kind would
    let a brute force go on learning during the back-off.
    """
    now = codes.now()
    counter = await tx.keypads.claim(locker_id)
    actor = f"locker:{locker_id}"
    if counter.locked(now):
        outcome = KeypadOutcome(KeypadVerdict.LOCKED_OUT)
    else:
        code = await codes.redeem(tx, locker_id, typed)
        parcel = await tx.parcels.get_by_uid(code.parcel_uid) if code else None
        door = await rounds.next_door(tx, locker_id, typed) if rounds and not code else None
        bundle = await bundle_doors(tx, code) if code is not None and parcel is None else None
        if bundle is not None and bundle.doors:
            # A bundle's code: every door of the bundle awaiting its opening, at once.
            counter = counter.succeeded()
            outcome = KeypadOutcome(KeypadVerdict.ACCEPTED, code=code, bundle=bundle.doors)
        elif code is not None and bundle is not None and bundle.out_of_service:
            # Every deposit of the bundle goes into a compartment out of service: not a
            # guess, and the code stays usable (as a parcel's code, below).
            await tx.codes.restore(code.id)
            outcome = KeypadOutcome(KeypadVerdict.OUT_OF_SERVICE, code=code)
        elif door is not None:
            # A courier session's code: the next door of its round (no code is used up). Not
            # counted a failure, but it leaves the count of wrong codes alone: typed once per
            # door for hours, it would let whoever saw it reset the window between guesses.
            done = door.parcel is None
            verdict = KeypadVerdict.ROUND_DONE if done else KeypadVerdict.ACCEPTED
            outcome = KeypadOutcome(verdict, parcel=door.parcel, round=door)
        elif code is None or parcel is None or PURPOSE_FOR_STATE.get(parcel.state) != code.purpose:
            counter, lockout = counter.failed(now, policy)
            outcome = KeypadOutcome(KeypadVerdict.REJECTED, lockout=lockout)
        elif held_out(door_read := await deposit_door(tx, parcel, code.purpose)):
            await tx.codes.restore(code.id)
            outcome = KeypadOutcome(KeypadVerdict.OUT_OF_SERVICE, parcel=parcel)
        else:
            try:  # a deposit into a door out of its temperature range: moved, else refused
                parcel = await move_off_alarm(tx, parcel, code.purpose, now, door=door_read)
            except CompartmentAlarmed:
                # Not a guess either, and the code stays usable once the alarm clears.
                await tx.codes.restore(code.id)
                outcome = KeypadOutcome(KeypadVerdict.COMPARTMENT_ALARMED, parcel=parcel)
            else:
                counter = counter.succeeded()
                outcome = KeypadOutcome(KeypadVerdict.ACCEPTED, code=code, parcel=parcel)
        await tx.keypads.save(counter)
    details: dict[str, object] = {"result": outcome.verdict.value}
    if outcome.parcel is not None:
        details["parcelUid"] = outcome.parcel.uid
    if outcome.round is not None:
        details["courierSession"] = outcome.round.session.id
    if outcome.code is not None and outcome.parcel is None:
        details["bundleUid"] = outcome.code.parcel_uid
        details["parcelUids"] = [p.uid for p in outcome.bundle]
    if outcome.verdict is KeypadVerdict.REJECTED:
        details["failures"] = counter.failures
        details["dailyFailures"] = counter.day_failures
    if counter.locked_until is not None and counter.locked(now):
        details["lockedUntil"] = counter.locked_until.isoformat()
    await tx.audit.append(AuditAction.CODE_TRIED, actor=actor, subject=locker_id, details=details)
    if outcome.lockout is not None:
        # The operator-visible event, in this very transaction: no lockout without it.
        await record_keypad_event(
            tx,
            WebhookEventType.KEYPAD_LOCKED,
            counter,
            at=now,
            reason=outcome.lockout.reason,
        )
        await tx.audit.append(
            AuditAction.KEYPAD_LOCKOUT,
            actor=actor,
            subject=locker_id,
            details={
                "lockout": outcome.lockout.number,
                "lockedUntil": outcome.lockout.until.isoformat(),
                "backoffS": outcome.lockout.backoff.total_seconds(),
                "reason": outcome.lockout.reason.value,
                "maxFailures": policy.max_failures,
                "dailyFailures": counter.day_failures,
                "dailyMaxFailures": policy.daily_max_failures,
            },
        )
    return outcome


@dataclass(frozen=True, slots=True)
class KeypadClearance:
    """What `KeypadLockouts.clear` ended: the lockout as it stood, and when."""

    locker_id: str
    reason: LockoutReason
    locked_until: datetime
    lockouts: int
    day_failures: int
    cleared_at: datetime
    queued: int  # `locker.keypad_cleared` rows queued for subscriptions


class KeypadLockouts:
    """Operators end a keypad lockout by hand (the CLI today, the admin API next): audited
    with who and why, and announced as `locker.keypad_cleared` to the subscriptions that
    asked for it, in the transaction that clears it."""

    def __init__(self, *, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    async def clear(self, locker_id: str, *, actor: str, reason: str) -> KeypadClearance:
        """End `locker_id`'s running lockout. `actor` is the audit actor (`operator:<id>`),
        `reason` the operator's words (required). NotFound for an unknown locker,
        IllegalTransition when its keypad is not locked out (nothing is written then)."""
        why = reason.strip()
        if not why:
            raise ValidationFailed("a reason is required to clear a keypad lockout")
        async with self._store.transaction() as tx:
            if await tx.lockers.get(locker_id) is None:
                raise NotFound(f"no locker {locker_id!r}")
            now = self._clock()
            before = await tx.keypads.claim(locker_id)
            if not before.locked(now) or before.locked_until is None:
                raise IllegalTransition(
                    f"the keypad of locker {locker_id} is not locked out",
                    details={"lockerId": locker_id},
                )
            limit = before.lock_reason or LockoutReason.WINDOW
            after = before.cleared()
            await tx.keypads.save(after)
            queued = await record_keypad_event(
                tx,
                WebhookEventType.KEYPAD_CLEARED,
                after,
                at=now,
                reason=limit,
                cleared_by=actor,
                why=why,
            )
            await tx.audit.append(
                AuditAction.KEYPAD_CLEARED,
                actor=actor,
                subject=locker_id,
                details={
                    "reason": why,
                    "limit": limit.value,
                    "lockedUntil": before.locked_until.isoformat(),
                    "lockouts": before.lockouts,
                    "dailyFailures": before.day_failures,
                },
            )
        return KeypadClearance(
            locker_id=locker_id,
            reason=limit,
            locked_until=before.locked_until,
            lockouts=before.lockouts,
            day_failures=before.day_failures,
            cleared_at=now,
            queued=queued,
        )
