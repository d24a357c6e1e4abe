"""A code typed at a locker's keypad: attempt limits first, then the code, then the audit."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.domain.audit import AuditAction
from gateway.domain.door import PURPOSE_FOR_STATE
from gateway.domain.keypad import KeypadPolicy, Lockout
from gateway.domain.parcel import Parcel
from gateway.service.codes import CodeService
from gateway.store import UnitOfWork
from gateway.store.access_codes import AccessCode


class KeypadVerdict(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    LOCKED_OUT = "locked-out"


@dataclass(frozen=True, slots=True)
class KeypadOutcome:
    """What to do with one code entry: open `parcel`'s door for `code` only if accepted."""

    verdict: KeypadVerdict
    code: AccessCode | None = None
    parcel: Parcel | None = None
    lockout: Lockout | None = None


async def try_code(
    tx: UnitOfWork, *, codes: CodeService, policy: KeypadPolicy, locker_id: str, typed: str
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
        if code is None or parcel is None or PURPOSE_FOR_STATE.get(parcel.state) != code.purpose:
            counter, lockout = counter.failed(now, policy)
            outcome = KeypadOutcome(KeypadVerdict.REJECTED, lockout=lockout)
        else:
            counter = counter.succeeded()
            outcome = KeypadOutcome(KeypadVerdict.ACCEPTED, code=code, parcel=parcel)
        await tx.keypads.save(counter)
    details: dict[str, object] = {"result": outcome.verdict.value}
    if outcome.parcel is not None:
        details["parcelUid"] = outcome.parcel.uid
    if outcome.verdict is KeypadVerdict.REJECTED:
        details["failures"] = counter.failures
        details["dailyFailures"] = counter.day_failures
    if counter.locked_until is not None and counter.locked(now):
        details["lockedUntil"] = counter.locked_until.isoformat()
    await tx.audit.append(AuditAction.CODE_TRIED, actor=actor, subject=locker_id, details=details)
    if outcome.lockout is not None:
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
