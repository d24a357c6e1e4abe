"""The ACME LB-8 adapter under OpenLocker's conformance kit, plus a check of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from rig import AcmeRig

from gateway.sdk import DoorOpened
from gateway.sdk.testing import AdapterContract, Conformance


class TestAcmeLb8(AdapterContract):
    @pytest_asyncio.fixture
    async def rig(self) -> AsyncIterator[AcmeRig]:
        async with AcmeRig() as running:
            yield running

    @pytest.mark.asyncio
    async def test_a_forced_door_is_reported(self, conformance: Conformance) -> None:
        rig = conformance.rig
        assert isinstance(rig, AcmeRig)
        rig.board.force_open(2)  # something only this rig can do
        opened = await conformance.events.next_matching(
            DoorOpened, within=conformance.timing.event_s, compartment_code="A2"
        )
        assert opened.locker_id == conformance.locker_id
        assert rig.unlock_count("A2") == 0
