"""Audit entries for opened doors: an unlock we ordered, or a locker's report of an open door."""

from __future__ import annotations

from gateway.domain.audit import AuditAction
from gateway.domain.door import DoorSession, OpenOutcome
from gateway.store import UnitOfWork


async def audit_open(
    tx: UnitOfWork,
    session: DoorSession,
    actor: str,
    *,
    source: str,
    outcome: OpenOutcome | None = None,
) -> None:
    """A door opened within one of our door sessions: `source` "unlock" when the locker
    confirmed our unlock (`actor` asked for it), "sensor" when it reported the door open."""
    details: dict[str, object] = {
        "source": source,
        "session": session.id,
        "parcelUid": session.parcel_uid,
        "purpose": str(session.purpose),
    }
    if outcome is not None:
        details["outcome"] = str(outcome)
    await tx.audit.append(
        AuditAction.DOOR_OPENED,
        actor=actor,
        subject=f"{session.locker_id}/{session.compartment_code}",
        details=details,
    )


async def audit_unasked_open(tx: UnitOfWork, locker_id: str, compartment_code: str) -> None:
    """A locker reports a door open that no unlock of ours explains: what an audit must keep."""
    await tx.audit.append(
        AuditAction.DOOR_OPENED,
        actor=f"locker:{locker_id}",
        subject=f"{locker_id}/{compartment_code}",
        details={"source": "sensor", "session": None},
    )
