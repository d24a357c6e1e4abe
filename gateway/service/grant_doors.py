"""Doors a locker opened itself for an access grant it verified offline (DoorOpened `grant`).

The gateway trusts the locker's signature check only for grants it issued: the reported `jti`
must name a grant of this network for exactly that locker, compartment, parcel and action, and
not redeemed before. Then the grant is redeemed and a door session starts, so the DoorClosed
that follows moves the parcel as after any unlock. Anything else is a security event.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from gateway.domain.audit import AuditAction
from gateway.domain.door import PURPOSE_FOR_STATE, DoorSession, OpenOutcome, OpenPurpose
from gateway.sdk import DoorOpened, GrantUse
from gateway.service.bundle_grants import bundle_grant_door
from gateway.store import UnitOfWork

log = logging.getLogger(__name__)
# The most clock skew a verifier may allow (SPEC §11 "Verifying", check 12).
LEEWAY = timedelta(seconds=30)


async def grant_opened(tx: UnitOfWork, event: DoorOpened, grant: GrantUse) -> DoorSession | None:
    """Redeem the grant and open its door session; None (logged, audited) when it is not ours."""
    where = f"{event.locker_id}/{event.compartment_code}"
    record = await tx.grants.get(grant.jti)
    if record is None:
        # A bundle grant (gateway/service/bundle_grants.py): one jti, one record per door.
        record, grant = await bundle_grant_door(tx, event, grant)
    problem: str | None = None
    if record is None:
        problem = "no grant with this jti was issued"
    elif record.locker_id != event.locker_id or record.compartment_code != event.compartment_code:
        problem = f"the grant is for {record.locker_id}/{record.compartment_code}"
    elif record.action != grant.purpose or record.parcel_uid != grant.parcel_uid:
        problem = "the reported act or sub differs from the issued grant"
    elif not record.not_before - LEEWAY <= event.at < record.expires_at + LEEWAY:
        # The locker's clock is wrong (or the locker is not honest): it opened for a grant
        # outside the window it was issued for.
        problem = f"the door opened at {event.at.isoformat()}, outside the grant's validity"
    elif (
        moved := await _moved_on(
            tx, record.parcel_uid, record.action, record.locker_id, record.compartment_code
        )
    ) is not None:
        # An offline locker cannot learn that the parcel was cancelled, picked up or expired
        # since: whatever lies behind that door now is not the grant's parcel.
        problem = moved
    elif not await tx.grants.redeem(record.jti, event.at):
        problem = "the grant was redeemed already"
    if record is None or problem is not None:
        # A locker opened a door for something the network never issued (or issued once):
        # a forged key set, a tampered locker, or a replay. Nothing about any parcel changes.
        log.warning(
            "SecurityEvent: locker %s opened %s for grant %s: %s",
            event.locker_id,
            event.compartment_code,
            grant.jti,
            problem,
        )
        await tx.audit.append(
            AuditAction.GRANT_REFUSED,
            actor=f"locker:{event.locker_id}",
            subject=where,
            details={
                "jti": grant.jti,
                "act": str(grant.purpose),
                "sub": grant.parcel_uid,
                "reason": problem,
                "source": "DoorOpened",
            },
        )
        return None
    stale = await tx.doors.live(event.locker_id, event.compartment_code)
    if stale is not None:
        # An earlier unlock of this door never saw its close; the grant's session supersedes it.
        await tx.doors.failed(stale.id, None, event.at)
    session = await tx.doors.start(
        locker_id=event.locker_id,
        compartment_code=event.compartment_code,
        parcel_uid=record.parcel_uid,
        purpose=record.action,
        deadline=event.at,
    )
    await tx.doors.opened(session.id, OpenOutcome.UNLOCKED, event.at)
    details = {"jti": grant.jti, "session": session.id, "act": str(record.action)}
    await tx.audit.append(
        AuditAction.GRANT_REDEEMED,
        actor=f"locker:{event.locker_id}",
        subject=record.parcel_uid,
        details=details,
    )
    await tx.audit.append(
        AuditAction.DOOR_OPENED,
        actor=f"locker:{event.locker_id}",
        subject=where,
        details={**details, "source": "grant", "parcelUid": record.parcel_uid},
    )
    log.info("locker opened %s for grant %s (%s)", where, grant.jti, record.action)
    return session


async def _moved_on(
    tx: UnitOfWork, parcel_uid: str, action: OpenPurpose, locker_id: str, compartment_code: str
) -> str | None:
    """Why the grant's parcel no longer awaits the opening it was issued for; None if it does."""
    parcel = await tx.parcels.get_by_uid(parcel_uid)
    if parcel is None:
        return "the grant's parcel no longer exists"
    if PURPOSE_FOR_STATE.get(parcel.state) is not action:
        return f"the grant's parcel is {parcel.state} now and awaits no {action}"
    if (parcel.locker_id, parcel.compartment_code) != (locker_id, compartment_code):
        return f"the grant's parcel is in {parcel.locker_id}/{parcel.compartment_code} now"
    return None
