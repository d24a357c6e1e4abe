"""Grant reports the gateway must not trust although it issued the grant.

A locker offline cannot learn that a parcel moved on: a grant issued for a parcel that was
cancelled (or picked up, or expired) since still opens its door, and whatever lies in that
compartment now is not the grant's parcel. When the report arrives the gateway must treat it
as the security event it is, not as a door session of a parcel that no longer awaits it.
"""

from __future__ import annotations

from datetime import timedelta

from gateway.domain.audit import AuditAction
from gateway.sdk import DoorOpened, GrantUse
from tests.e2e.conftest import LOCKER, Site
from tests.e2e.test_offline_grants import issue, jti_of


async def _use(site: Site, parcel_id: str) -> tuple[str, str, GrantUse]:
    """(compartment, jti, the DoorOpened `grant` a locker reports) of a fresh grant."""
    grant = await issue(site, parcel_id)
    jti = jti_of(str(grant["token"]))
    async with site.gateway.store.transaction() as tx:
        record = await tx.grants.get(jti)
    assert record is not None
    use = GrantUse(jti=jti, purpose=record.action, parcel_uid=record.parcel_uid)
    return str(grant["compartmentCode"]), jti, use


async def _refusals(site: Site, jti: str) -> list[str]:
    async with site.gateway.store.transaction() as tx:
        entries = await tx.audit.latest(20, action=AuditAction.GRANT_REFUSED)
    return [str(e.details["reason"]) for e in entries if e.details.get("jti") == jti]


async def test_a_grant_of_a_cancelled_parcel_is_a_security_event(site: Site) -> None:
    await site.book("REV-CANCELLED", "S")
    code, jti, use = await _use(site, "REV-CANCELLED")
    cancelled = await site.post("/v1/parcels/REV-CANCELLED/cancel", {}, key="cancel-rev")
    assert cancelled.status_code == 200, cancelled.text
    assert await site.state("REV-CANCELLED") == "cancelled"
    # The locker was offline: it never heard of the cancellation and opened the door.
    opened = DoorOpened(
        locker_id=LOCKER, at=site.clock(), event_id="rev-1", compartment_code=code, grant=use
    )
    await site.gateway.locker_side.host.locker_event(opened)
    reasons = await _refusals(site, jti)
    assert len(reasons) == 1, reasons
    assert "cancelled" in reasons[0]
    async with site.gateway.store.transaction() as tx:
        session = await tx.doors.live(LOCKER, code)
        record = await tx.grants.get(jti)
        redeemed = await tx.audit.latest(10, action=AuditAction.GRANT_REDEEMED)
    assert session is None  # no door session for a parcel that no longer awaits one
    assert record is not None
    assert record.redeemed_at is None
    assert all(e.details.get("jti") != jti for e in redeemed)
    # The door did open: the trail says so, whatever the gateway thinks of the grant.
    async with site.gateway.store.transaction() as tx:
        doors = await tx.audit.latest(
            10, action=AuditAction.DOOR_OPENED, subject=f"{LOCKER}/{code}"
        )
    assert len(doors) == 1
    assert doors[0].actor == f"locker:{LOCKER}"


async def test_a_grant_used_outside_its_window_is_a_security_event(site: Site) -> None:
    await site.book("REV-LATE", "S")
    code, jti, use = await _use(site, "REV-LATE")
    async with site.gateway.store.transaction() as tx:
        record = await tx.grants.get(jti)
    assert record is not None
    # A locker whose clock runs far behind (or a tampered one) accepted it a day too late.
    late = record.expires_at + timedelta(days=1)
    opened = DoorOpened(
        locker_id=LOCKER, at=late, event_id="rev-2", compartment_code=code, grant=use
    )
    await site.gateway.locker_side.host.locker_event(opened)
    reasons = await _refusals(site, jti)
    assert len(reasons) == 1, reasons
    assert "validity" in reasons[0]
    async with site.gateway.store.transaction() as tx:
        assert await tx.doors.live(LOCKER, code) is None
    assert await site.state("REV-LATE") == "reserved"
