"""Which unlock a pickup with a check goes out as: with the check where the locker can show
it (PICKUP_CHECK), a plain unlock and a warning where it cannot (a bare lock board)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from gateway.domain.door import DoorSession, DoorSessionState, OpenOutcome, OpenPurpose
from gateway.domain.requirements import PickupCheck
from gateway.sdk import AdapterFeatures, LockerAdapter
from gateway.service.pickup_checks import open_door

CHECK = PickupCheck(minimum_age=18)
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class BareBoard:
    """A lock board's adapter: unlocks, nothing to show a check on (records its calls)."""

    features: ClassVar[AdapterFeatures] = AdapterFeatures.DOOR_SENSOR

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def open_compartment(
        self, locker_id: str, compartment_code: str, *, purpose: OpenPurpose, deadline: datetime
    ) -> OpenOutcome:
        self.calls.append(("open_compartment", {"code": compartment_code, "purpose": purpose}))
        return OpenOutcome.UNLOCKED


class Kiosk(BareBoard):
    """A locker with a screen that shows the check with the opening."""

    features: ClassVar[AdapterFeatures] = AdapterFeatures.DOOR_SENSOR | AdapterFeatures.PICKUP_CHECK

    async def open_with_check(
        self, locker_id: str, compartment_code: str, *, check: PickupCheck, deadline: datetime
    ) -> OpenOutcome:
        self.calls.append(("open_with_check", {"code": compartment_code, "check": check}))
        return OpenOutcome.UNLOCKED


def session(purpose: OpenPurpose) -> DoorSession:
    return DoorSession(
        id=7,
        locker_id="L1",
        compartment_code="A01",
        parcel_uid="p-1",
        purpose=purpose,
        state=DoorSessionState.REQUESTED,
        requested_at=NOW,
        deadline=NOW + timedelta(seconds=10),
    )


def adapter(fake: BareBoard) -> LockerAdapter:
    return fake  # type: ignore[return-value]  # only what open_door calls is implemented


async def test_a_locker_with_a_screen_gets_the_check() -> None:
    kiosk = Kiosk()
    assert (
        await open_door(adapter(kiosk), session(OpenPurpose.PICKUP), CHECK) is OpenOutcome.UNLOCKED
    )
    assert kiosk.calls == [("open_with_check", {"code": "A01", "check": CHECK})]
    # A deposit never shows the recipient's check, nor does a pickup without one.
    await open_door(adapter(kiosk), session(OpenPurpose.DEPOSIT), CHECK)
    await open_door(adapter(kiosk), session(OpenPurpose.PICKUP), None)
    assert [name for name, _ in kiosk.calls[1:]] == ["open_compartment", "open_compartment"]


async def test_a_bare_board_opens_and_the_gateway_warns(caplog: pytest.LogCaptureFixture) -> None:
    board = BareBoard()
    with caplog.at_level(logging.WARNING, logger="gateway.service.pickup_checks"):
        outcome = await open_door(adapter(board), session(OpenPurpose.PICKUP), CHECK)
    assert outcome is OpenOutcome.UNLOCKED
    assert board.calls == [("open_compartment", {"code": "A01", "purpose": OpenPurpose.PICKUP})]
    assert "cannot show the pickup check of door session 7" in caplog.text
