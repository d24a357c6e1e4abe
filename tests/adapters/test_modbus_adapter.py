"""The modbus adapter against the emulated controller over TCP sockets, in both framings."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from locker_emulator.boards.modbus import Framing, ModbusQuirk
from locker_emulator.boards.modbus_frames import ExceptionCode

from gateway.sdk import (
    AdapterError,
    AdapterProtocolError,
    AdapterTimeout,
    DoorClosed,
    DoorOpened,
    LockerAdapter,
    LockerNotConnected,
    OpenOutcome,
    OpenPurpose,
    PresenceChanged,
)
from gateway.sdk.domain import DoorState, ItemSensor
from gateway.sdk.testing.collector import EventCollector
from gateway.sdk.testing.host import RecordingHost
from tests.adapters.modbus_rig import ModbusRig

EVENT_S = 5.0
LOCKER = ModbusRig.locker_id


@dataclass
class Running:
    rig: ModbusRig
    host: RecordingHost
    adapter: LockerAdapter
    events: EventCollector

    def deadline(self, seconds: float = 4.0) -> datetime:
        return self.host.now() + timedelta(seconds=seconds)

    async def open(self, code: str, seconds: float = 4.0) -> OpenOutcome:
        return await self.adapter.open_compartment(
            LOCKER, code, purpose=OpenPurpose.DEPOSIT, deadline=self.deadline(seconds)
        )

    def releases(self, code: str) -> int:
        return self.rig.unlock_count(code)


@pytest.fixture(params=[Framing.TCP, Framing.RTU], ids=["tcp", "rtu"])
def framing(request: pytest.FixtureRequest) -> Framing:
    value: Framing = request.param
    return value


@contextlib.asynccontextmanager
async def start(rig: ModbusRig, **overrides: Any) -> AsyncIterator[Running]:
    host = RecordingHost()
    adapter = rig.make_adapter(host, **overrides)
    events = EventCollector(host)
    async with adapter:
        await events.next_matching(PresenceChanged, within=EVENT_S, online=True)
        yield Running(rig, host, adapter, events)


@pytest.fixture
async def running(framing: Framing) -> AsyncIterator[Running]:
    async with ModbusRig(framing=framing) as rig, start(rig) as one:
        yield one


async def test_open_unlocks_reports_the_door_and_boots_the_locker(running: Running) -> None:
    assert await running.open("A02") is OpenOutcome.UNLOCKED
    await running.events.next_matching(DoorOpened, within=EVENT_S, compartment_code="A02")
    assert running.releases("A02") == 1
    assert running.releases("A01") == 0
    status = await running.adapter.read_status(LOCKER)
    assert status.online
    assert status.booted
    doors = {c.code: c.door for c in status.compartments}
    assert doors == {"A01": DoorState.CLOSED, "A02": DoorState.OPEN, "A03": DoorState.CLOSED}
    [boot] = running.host.boots
    assert boot.locker_id == LOCKER
    assert [(c.code, c.size_class) for c in boot.info.compartments] == [
        ("A01", "M"),
        ("A02", "M"),
        ("A03", "M"),
    ]


async def test_closing_reports_what_the_item_sensor_sees(running: Running) -> None:
    assert await running.open("A01") is OpenOutcome.UNLOCKED
    assert await running.open("A03") is OpenOutcome.UNLOCKED
    await running.rig.close_door("A01", item_inside=True)
    closed = await running.events.next_matching(DoorClosed, within=EVENT_S, compartment_code="A01")
    assert closed.item is ItemSensor.PRESENT
    await running.rig.close_door("A03", item_inside=False)
    closed = await running.events.next_matching(DoorClosed, within=EVENT_S, compartment_code="A03")
    assert closed.item is ItemSensor.ABSENT
    status = await running.adapter.read_status(LOCKER)
    items = {c.code: (c.door, c.item) for c in status.compartments}
    assert items["A01"] == (DoorState.CLOSED, ItemSensor.PRESENT)
    assert items["A03"] == (DoorState.CLOSED, ItemSensor.ABSENT)
    # Opened before closed, for each door.
    kinds = [
        (type(e).__name__, getattr(e, "compartment_code", None)) for e in running.events.of(LOCKER)
    ]
    assert kinds.index(("DoorOpened", "A01")) < kinds.index(("DoorClosed", "A01"))


async def test_a_stuck_lock_is_a_jammed_door_without_door_opened(running: Running) -> None:
    await running.rig.jam("A01")
    assert await running.open("A01") is OpenOutcome.DOOR_JAMMED
    assert running.releases("A01") == 1
    await running.events.assert_none(DoorOpened, within=0.3, compartment_code="A01")
    status = await running.adapter.read_status(LOCKER)
    assert {c.code: c.door for c in status.compartments}["A01"] is DoorState.JAMMED


async def test_a_lost_unlock_reply_is_settled_by_reading_the_door(running: Running) -> None:
    await running.rig.lose_next_reply()
    assert await running.open("A02") is OpenOutcome.UNLOCKED
    assert running.releases("A02") == 1  # never sent twice
    assert running.rig.controller.lose_write_replies == 0
    await running.events.next_matching(DoorOpened, within=EVENT_S, compartment_code="A02")


async def test_a_lost_reply_with_the_door_still_shut_is_a_timeout(running: Running) -> None:
    await running.rig.jam("A02")
    await running.rig.lose_next_reply()
    with pytest.raises(AdapterTimeout):
        await running.open("A02")
    assert running.releases("A02") == 1


async def test_garbage_on_the_line_costs_a_reply_not_the_bus(running: Running) -> None:
    running.rig.bus.inject_garbage(b"\x13\x37\xff\x00", replies=1)
    assert await running.open("A01") is OpenOutcome.UNLOCKED
    assert running.releases("A01") == 1
    assert running.rig.bus.faults.garbage_replies == 0
    running.rig.bus.drop_next()  # and one reply, whichever comes next, is lost
    await running.rig.close_door("A01", item_inside=True)
    await running.events.next_matching(DoorClosed, within=EVENT_S, compartment_code="A01")
    assert running.rig.bus.replies_dropped == 1
    # One spoilt reply is one failed read, never an outage.
    offline = [
        e for e in running.events.received if isinstance(e, PresenceChanged) and not e.online
    ]
    assert offline == []


async def test_a_slow_bus_within_the_timeout_works(running: Running) -> None:
    running.rig.bus.set_slow(reply_delay=0.1, byte_delay=0.002)
    assert await running.open("A03", seconds=6) is OpenOutcome.UNLOCKED
    assert running.releases("A03") == 1


async def test_a_bus_slower_than_the_timeout_never_repeats_the_unlock(running: Running) -> None:
    await running.rig.jam("A03")  # the door stays shut: no read can prove the unlock
    running.rig.bus.set_slow(reply_delay=0.6)
    with pytest.raises(AdapterTimeout):
        await running.open("A03", seconds=3)
    assert running.releases("A03") == 1
    # Once the bus is fast again, late replies do not confuse the adapter.
    running.rig.bus.set_slow()
    await running.rig.wait_ready(running.adapter)
    assert await running.open("A02") is OpenOutcome.UNLOCKED
    await running.events.next_matching(DoorOpened, within=EVENT_S, compartment_code="A02")
    assert running.releases("A03") == 1


async def test_a_powered_off_controller_goes_offline_and_comes_back(running: Running) -> None:
    await running.rig.disconnect()
    await running.events.next_matching(PresenceChanged, within=EVENT_S, online=False)
    with pytest.raises((LockerNotConnected, AdapterTimeout)):
        await running.open("A01")
    assert not (await running.adapter.read_status(LOCKER)).online
    await running.rig.reconnect()
    await running.events.next_matching(PresenceChanged, within=EVENT_S, online=True)
    assert len(running.host.boots) == 2  # a new session after the outage
    assert await running.open("A01") is OpenOutcome.UNLOCKED
    assert running.releases("A01") == 1


async def test_exception_responses_are_sdk_errors_with_the_code(running: Running) -> None:
    running.rig.controller.forced_exception = ExceptionCode.SERVER_DEVICE_BUSY
    # A controller that answers "busy" to the polls is there: online, with the error shown.
    await running.events.assert_none(PresenceChanged, within=0.4, online=False)
    status = await running.adapter.read_status(LOCKER)
    assert status.online
    assert "ServerDeviceBusy" in status.details["lastError"]
    with pytest.raises(AdapterError) as busy:
        await running.open("A01")
    assert busy.value.details["modbusException"] == 6
    assert busy.value.details["name"] == "ServerDeviceBusy"
    running.rig.controller.forced_exception = None
    assert running.releases("A01") == 0


async def test_a_coil_outside_the_map_is_illegal_data_address(framing: Framing) -> None:
    # The polls read the right blocks; only the coils are misconfigured.
    async with ModbusRig(framing=framing) as rig:
        lockers = _shifted_coils(rig, 100)
        async with start(rig, lockers=lockers) as run:
            with pytest.raises(AdapterProtocolError) as refused:
                await run.open("A01")
            assert refused.value.details["modbusException"] == 2
            assert refused.value.details["function"] == 5
            assert rig.unlock_count("A01") == 0


def _shifted_coils(rig: ModbusRig, base: int) -> dict[str, Any]:
    locker = rig.config().lockers[rig.locker_id].model_dump(mode="json")
    locker["registers"]["coil_base"] = base
    return {rig.locker_id: locker}


async def test_unknown_compartments_lockers_and_late_commands_touch_nothing(
    running: Running,
) -> None:
    with pytest.raises(AdapterProtocolError):
        await running.open("Z99")
    with pytest.raises(LockerNotConnected):
        await running.adapter.open_compartment(
            "NOT-MINE", "A01", purpose=OpenPurpose.PICKUP, deadline=running.deadline()
        )
    with pytest.raises(AdapterTimeout):
        await running.adapter.open_compartment(
            LOCKER,
            "A01",
            purpose=OpenPurpose.PICKUP,
            deadline=running.host.now() - timedelta(seconds=1),
        )
    assert sum(running.releases(code) for code in running.rig.compartments) == 0


async def test_the_echo_quirk_is_refused_strictly_and_accepted_leniently(
    framing: Framing, caplog: pytest.LogCaptureFixture
) -> None:
    async with ModbusRig(framing=framing, quirk=ModbusQuirk.ECHO_COIL_STATE) as rig:
        async with start(rig) as run:
            with pytest.raises(AdapterProtocolError) as refused:
                await run.open("A01")
            assert refused.value.details["quirk"] == "echo"
        async with start(rig, lenient=True) as run:
            with caplog.at_level(logging.WARNING, logger="adapters.modbus.adapter"):
                assert await run.open("A02") is OpenOutcome.UNLOCKED
            assert "accepted (lenient)" in caplog.text


async def test_a_wrong_unit_id_keeps_the_locker_offline(framing: Framing) -> None:
    async with ModbusRig(framing=framing) as rig:
        host = RecordingHost()
        locker = rig.config().lockers[rig.locker_id].model_dump(mode="json")
        locker["unit"] = rig.unit + 1
        adapter = rig.make_adapter(host, lockers={rig.locker_id: locker})
        events = EventCollector(host)
        async with adapter:
            await events.assert_none(PresenceChanged, within=1.0, online=True)
            status = await adapter.read_status(rig.locker_id)
        assert not status.online
        assert not status.booted
        assert host.boots == []
        # Modbus TCP names the fault (exception 0B from the gateway); RTU hears only silence.
        expected = "GatewayTargetFailedToRespond" if framing is Framing.TCP else "no reply"
        assert expected in status.details["lastError"]
