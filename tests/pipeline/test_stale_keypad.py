"""A keypad entry is for the person standing at the locker now. One that reaches the gateway
long after it was typed (the gateway was down, the locker's journal replayed it) must open
nothing — the chaos run saw a door open 36 s after the recipient had left — while the code
stays usable, the display says no, and the refusal is audited and counted (SPEC §9)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from gateway.domain.enums import SizeClass
from gateway.domain.sizes import SizeRequirement
from gateway.observability.metrics import Metrics
from gateway.sdk import AdapterFeatures, CodeEntered, JournalReported, OpenOutcome, OpenPurpose
from gateway.service.codes import CodeService
from gateway.service.locker_host import LockerSide
from gateway.service.parcels import NewParcel
from tests.pipeline.conftest import CARRIER, LOCKER, InstantAdapter, Rig, booking

TYPED_AGO = timedelta(seconds=36)  # what the chaos run saw


class Keypad(InstantAdapter):
    """A locker with a display: counts the doors it opens and what it was told to show."""

    features: ClassVar[AdapterFeatures] = InstantAdapter.features | AdapterFeatures.DISPLAY

    def __init__(self) -> None:
        self.opens = 0
        self.shown: list[str] = []

    async def open_compartment(
        self, locker_id: str, compartment_code: str, *, purpose: OpenPurpose, deadline: datetime
    ) -> OpenOutcome:
        self.opens += 1
        return OpenOutcome.UNLOCKED

    async def display(self, locker_id: str, message: str, deadline: datetime) -> None:
        self.shown.append(message)


async def _setup(rig: Rig, parcel_id: str) -> tuple[LockerSide, Keypad, Metrics, str]:
    keypad, metrics = Keypad(), Metrics()
    side = rig.side_with(keypad, metrics=metrics)
    need = SizeRequirement(SizeClass.S)
    cmd = NewParcel(carrier_id=CARRIER, parcel_id=parcel_id, locker_id=LOCKER, need=need)
    await rig.parcels.create(cmd, booking(f"book-{parcel_id}"))
    issued = await CodeService(store=rig.store).issue(CARRIER, parcel_id)
    return side, keypad, metrics, issued.code


def _typed(code: str, at: datetime) -> CodeEntered:
    return CodeEntered(locker_id=LOCKER, at=at, event_id=str(uuid.uuid4()), code=code)


async def test_a_code_typed_long_ago_opens_nothing_and_stays_usable(rig: Rig) -> None:
    side, keypad, metrics, code = await _setup(rig, "S-1")
    await side.host.locker_event(_typed(code, datetime.now(UTC) - TYPED_AGO))
    assert keypad.opens == 0, "a keypad entry typed 36 s ago opened the door"
    assert keypad.shown == ["CodeRejected"]
    assert metrics.keypad_entries.labels("stale")._value.get() == 1
    async with rig.store.transaction() as tx:
        (tried,) = await tx.audit.latest(1, action="code.tried", subject=LOCKER)
    assert tried.details["result"] == "stale"
    assert tried.details["ageS"] >= TYPED_AGO.total_seconds()
    # Not consumed, and not a failure: the person types it again and the door opens.
    await side.host.locker_event(_typed(code, datetime.now(UTC)))
    assert keypad.opens == 1, "the code refused as stale was used up"


async def _heartbeat(side: LockerSide, rig: Rig, skew: timedelta) -> None:
    """A live Heartbeat of a locker whose clock is `skew` off the gateway's."""
    report = JournalReported(
        locker_id=LOCKER,
        at=datetime.now(UTC) + skew,
        event_id=str(uuid.uuid4()),
        last_event_seq=await rig.mark() or 0,
    )
    await side.host.locker_event(report)


async def test_a_locker_clock_behind_does_not_make_fresh_entries_stale(rig: Rig) -> None:
    side, keypad, _, code = await _setup(rig, "S-2")
    skew = -timedelta(minutes=2)
    await _heartbeat(side, rig, skew)
    await side.host.locker_event(_typed(code, datetime.now(UTC) + skew))  # typed just now
    assert keypad.opens == 1, "a fresh code from a locker whose clock is behind was refused"


async def test_a_locker_clock_ahead_does_not_make_old_entries_fresh(rig: Rig) -> None:
    side, keypad, _, code = await _setup(rig, "S-3")
    skew = timedelta(minutes=2)
    await _heartbeat(side, rig, skew)
    await side.host.locker_event(_typed(code, datetime.now(UTC) + skew - TYPED_AGO))
    assert keypad.opens == 0, "an old entry from a locker whose clock is ahead opened the door"
