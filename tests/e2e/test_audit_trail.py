"""What a site writes to the audit trail: codes issued, doors opened (asked for or not)."""

from __future__ import annotations

from gateway.domain.audit import AuditAction
from gateway.sdk import DoorOpened
from gateway.service.audit import AuditService
from gateway.store.audit import AuditRecord
from tests.e2e.conftest import LOCKER, Site, eventually


async def door_openings(site: Site) -> list[AuditRecord]:
    return await AuditService(store=site.gateway.store).latest(100, action=AuditAction.DOOR_OPENED)


async def test_issued_codes_and_remote_opens_are_audited(site: Site) -> None:
    door = (await site.book("AU-1"))["compartmentCode"]
    code = await site.code("AU-1")
    parcel = await site.gateway.parcels.get("acme", "AU-1")
    audit = AuditService(store=site.gateway.store)
    [issued] = await audit.latest(10, action=AuditAction.CODE_ISSUED)
    assert (issued.actor, issued.subject) == ("carrier:acme", parcel.uid)
    assert issued.details["purpose"] == "deposit"
    assert code not in repr(issued.details)

    opened = await site.post("/v1/parcels/AU-1/open", key="au-open-0001")
    assert opened.json()["outcome"] == "Unlocked", opened.text

    async def sources() -> list[tuple[str, str]]:
        return sorted((e.details["source"], e.actor) for e in await door_openings(site))

    # The confirmed unlock (asked for by the carrier) and the locker's report of the door, in
    # either order: the report may overtake the reply to the unlock.
    await eventually(sources, [("sensor", f"locker:{LOCKER}"), ("unlock", "carrier:acme")])
    for entry in await door_openings(site):
        assert entry.subject == f"{LOCKER}/{door}"
        assert entry.details["parcelUid"] == parcel.uid
    assert (await audit.verify()).ok


async def test_a_door_opened_without_an_unlock_is_audited(site: Site) -> None:
    event = DoorOpened(
        locker_id=LOCKER, at=site.clock(), event_id="forced-door-1", compartment_code="M03"
    )
    await site.gateway.locker_side.host.locker_event(event)

    [entry] = await door_openings(site)
    assert (entry.actor, entry.subject) == (f"locker:{LOCKER}", f"{LOCKER}/M03")
    assert entry.details == {"source": "sensor", "session": None}
    # Redelivered (QoS 1, another instance): acted on, and audited, once.
    await site.gateway.locker_side.host.locker_event(event)
    assert len(await door_openings(site)) == 1
