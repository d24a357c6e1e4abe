"""The built-in `modbus` adapter under the conformance kit, against the emulated controller."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from locker_emulator.boards.modbus import Framing

from gateway.sdk.testing import AdapterContract, AdapterRig
from tests.adapters.modbus_rig import ModbusRig


class TestModbusAdapter(AdapterContract):
    @pytest_asyncio.fixture(params=[Framing.TCP, Framing.RTU], ids=["tcp", "rtu"])
    async def rig(self, request: pytest.FixtureRequest) -> AsyncIterator[ModbusRig]:
        async with ModbusRig(framing=request.param) as running:
            yield running


def test_the_rig_implements_the_rig_protocol() -> None:
    assert isinstance(ModbusRig(), AdapterRig)
