"""The modbus adapter with several controllers on one RTU bus, and the gateway's boot gating."""

from __future__ import annotations

from datetime import timedelta

import pytest
from locker_emulator.boards import LockBank, TcpBus
from locker_emulator.boards.modbus import Framing, ModbusController

from adapters.modbus import ModbusAdapter, ModbusConfig
from gateway.sdk import (
    BootDecision,
    BootInfo,
    BootStatus,
    DoorOpened,
    LockerNotConnected,
    OpenOutcome,
    OpenPurpose,
    PresenceChanged,
)
from gateway.sdk.testing.collector import EventCollector
from gateway.sdk.testing.host import RecordingHost
from tests.adapters.modbus_rig import FAST, ModbusRig

EVENT_S = 5.0


async def test_two_controllers_share_one_rtu_bus() -> None:
    bank = LockBank(boards=[1, 2], locks_per_board=2)
    async with TcpBus(handler=ModbusController(bank=bank, framing=Framing.RTU)) as bus:
        compartments = {
            "A01": {"lock": 1, "size_class": "S"},
            "A02": {"lock": 2, "size_class": "L"},
        }
        config = ModbusConfig.model_validate(
            {
                "lockers": {
                    f"BUS-{unit}": {"url": bus.url, "unit": unit, "compartments": compartments}
                    for unit in (1, 2)
                },
                **FAST,
            }
        )
        host = RecordingHost()
        adapter = ModbusAdapter(config=config, host=host)
        events = EventCollector(host)
        async with adapter:
            for locker_id in ("BUS-1", "BUS-2"):
                await events.next_matching(PresenceChanged, within=EVENT_S, locker_id=locker_id)
            outcome = await adapter.open_compartment(
                "BUS-2",
                "A02",
                purpose=OpenPurpose.PICKUP,
                deadline=host.now() + timedelta(seconds=4),
            )
            assert outcome is OpenOutcome.UNLOCKED
            opened = await events.next_matching(DoorOpened, within=EVENT_S)
            assert (opened.locker_id, opened.compartment_code) == ("BUS-2", "A02")
            await events.assert_none(DoorOpened, within=0.3, locker_id="BUS-1")
        assert [bank.releases(unit, lock) for unit in (1, 2) for lock in (1, 2)] == [0, 0, 0, 1]
        assert sorted(boot.locker_id for boot in host.boots) == ["BUS-1", "BUS-2"]


class RefusingHost(RecordingHost):
    """A gateway that does not know the locker yet: its first boots are rejected."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals
        self.asked = 0

    async def authorize_boot(self, locker_id: str, info: BootInfo) -> BootDecision:
        self.asked += 1
        if self.asked <= self.refusals:
            return BootDecision(BootStatus.REJECTED, 60, "unknown locker")
        return await super().authorize_boot(locker_id, info)


@pytest.mark.parametrize("framing", [Framing.TCP, Framing.RTU], ids=["tcp", "rtu"])
async def test_a_refused_locker_stays_dark_until_accepted(framing: Framing) -> None:
    async with ModbusRig(framing=framing) as rig:
        host = RefusingHost(refusals=1)
        adapter = rig.make_adapter(host, boot_retry_s=0.5)
        events = EventCollector(host)
        async with adapter:
            await events.assert_none(PresenceChanged, within=0.2)
            assert host.asked == 1
            with pytest.raises(LockerNotConnected):
                await adapter.open_compartment(
                    rig.locker_id,
                    "A01",
                    purpose=OpenPurpose.DEPOSIT,
                    deadline=host.now() + timedelta(seconds=2),
                )
            assert rig.unlock_count("A01") == 0
            await events.next_matching(PresenceChanged, within=EVENT_S, online=True)
            assert host.asked == 2
            assert (await adapter.read_status(rig.locker_id)).booted


async def test_a_controller_dark_at_start_is_picked_up_when_it_powers_on() -> None:
    async with ModbusRig(framing=Framing.TCP) as rig:
        await rig.disconnect()
        host = RecordingHost()
        adapter = rig.make_adapter(host)
        events = EventCollector(host)
        async with adapter:
            await events.next_matching(PresenceChanged, within=EVENT_S, online=False)
            status = await adapter.read_status(rig.locker_id)
            assert not status.online
            assert "cannot open" in status.details["lastError"]
            with pytest.raises(LockerNotConnected):
                await adapter.open_compartment(
                    rig.locker_id,
                    "A01",
                    purpose=OpenPurpose.DEPOSIT,
                    deadline=host.now() + timedelta(seconds=2),
                )
            await rig.reconnect()
            await events.next_matching(PresenceChanged, within=EVENT_S, online=True)
            assert [boot.locker_id for boot in host.boots] == [rig.locker_id]
