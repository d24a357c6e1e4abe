"""The kerong-cu16 adapter against emulated Kerong boards over TCP (socket://), with faults."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from locker_emulator.boards import KerongQuirk
from locker_emulator.boards.kerong import READ_ALL, READ_ONE, UNLOCK
from pydantic import ValidationError

from adapters.kerong_cu16 import KerongCu16Adapter, KerongCu16Config
from gateway.sdk import (
    AdapterConfigError,
    AdapterConnectionError,
    AdapterTimeout,
    DoorClosed,
    DoorOpened,
    LockerAdapter,
    LockerEvent,
    LockerNotConnected,
    OpenOutcome,
    OpenPurpose,
    PresenceChanged,
)
from gateway.sdk.domain import DoorState, ItemSensor
from gateway.sdk.testing import EventCollector, RecordingHost
from tests.adapters.kerong_rig import LOCKER_ID, KerongRig

EVENT_S = 3.0


@dataclass
class Running:
    rig: KerongRig
    adapter: LockerAdapter
    host: RecordingHost
    events: EventCollector

    async def open(self, code: str, *, within: float = 3.0) -> OpenOutcome:
        return await self.adapter.open_compartment(
            LOCKER_ID,
            code,
            purpose=OpenPurpose.DEPOSIT,
            deadline=self.host.now() + timedelta(seconds=within),
        )

    async def door(self, code: str) -> tuple[DoorState, ItemSensor]:
        status = await self.adapter.read_status(LOCKER_ID)
        (info,) = [c for c in status.compartments if c.code == code]
        return info.door, info.item


@contextlib.asynccontextmanager
async def running(**options: Any) -> AsyncIterator[Running]:
    async with KerongRig(**options) as rig:
        host = RecordingHost()
        adapter = rig.make_adapter(host)
        events = EventCollector(host)
        async with adapter:
            await rig.wait_ready(adapter)
            yield Running(rig, adapter, host, events)


@pytest.fixture
async def kr() -> AsyncIterator[Running]:
    async with running() as r:
        yield r


async def test_boots_with_the_wiring(kr: Running) -> None:
    (boot,) = kr.host.boots
    assert boot.locker_id == LOCKER_ID
    assert boot.info.vendor == "Kerong"
    assert boot.info.firmware == "emulated-1.0"
    assert [c.code for c in boot.info.compartments] == ["A01", "A02", "B16"]
    assert all(c.door is DoorState.CLOSED for c in boot.info.compartments)
    online = await kr.events.next_matching(PresenceChanged, within=EVENT_S)
    assert online.online


async def test_open_then_close_with_and_without_item(kr: Running) -> None:
    assert await kr.open("B16") is OpenOutcome.UNLOCKED
    assert kr.rig.door_open("B16")
    await kr.events.next_matching(DoorOpened, within=EVENT_S, compartment_code="B16")
    await kr.rig.close_door("B16", item_inside=True)
    closed = await kr.events.next_matching(DoorClosed, within=EVENT_S, compartment_code="B16")
    assert closed.item is ItemSensor.PRESENT
    assert await kr.door("B16") == (DoorState.CLOSED, ItemSensor.PRESENT)

    assert await kr.open("B16") is OpenOutcome.UNLOCKED
    await kr.events.next_matching(DoorOpened, within=EVENT_S, compartment_code="B16")
    await kr.rig.close_door("B16", item_inside=False)
    closed = await kr.events.next_matching(DoorClosed, within=EVENT_S, compartment_code="B16")
    assert closed.item is ItemSensor.ABSENT
    assert kr.rig.unlock_count("B16") == 2
    assert kr.rig.unlock_count("A01") == 0, "another lock fired"


async def test_opened_comes_before_closed(kr: Running) -> None:
    await kr.open("A01")
    await kr.rig.close_door("A01", item_inside=False)
    await kr.events.next_matching(DoorClosed, within=EVENT_S, compartment_code="A01")
    doors = [
        type(e).__name__ for e in kr.events.of(LOCKER_ID) if isinstance(e, DoorOpened | DoorClosed)
    ]
    assert doors == ["DoorOpened", "DoorClosed"]


async def test_a_poll_spanning_an_unlock_does_not_report_the_door_shut_again(
    kr: Running,
) -> None:
    # A poll reads board 0, then board 1. An unlock of a board-0 lock that runs between the two
    # reads publishes the door open; the poll's board-0 status, read before the unlock, must not
    # then report that door closed (the gateway would end the deposit as if it were shut).
    kr.rig.bus.set_slow(reply_delay=0.1)
    reads = kr.rig.boards.commands
    async with asyncio.timeout(5):
        while reads[READ_ALL] % 2 == 0:  # wait until a poll's read of board 0 is on the line
            await asyncio.sleep(0.005)
    assert await kr.open("A01") is OpenOutcome.UNLOCKED
    await kr.events.next_matching(DoorOpened, within=EVENT_S, compartment_code="A01")
    polls = reads[READ_ALL]
    async with asyncio.timeout(5):
        while reads[READ_ALL] < polls + 4:  # two more whole polls
            await asyncio.sleep(0.02)
    doors = [
        type(e).__name__
        for e in kr.events.of(LOCKER_ID)
        if isinstance(e, DoorOpened | DoorClosed) and e.compartment_code == "A01"
    ]
    assert doors == ["DoorOpened"]


async def test_open_an_open_door(kr: Running) -> None:
    await kr.open("A02")
    await kr.events.next_matching(DoorOpened, within=EVENT_S, compartment_code="A02")
    assert await kr.open("A02") is OpenOutcome.ALREADY_OPEN


async def test_stuck_lock_is_jammed_without_door_opened(kr: Running) -> None:
    await kr.rig.jam("A01")
    assert await kr.open("A01") is OpenOutcome.DOOR_JAMMED
    assert kr.rig.unlock_count("A01") == 1
    await kr.events.assert_none(DoorOpened, within=0.3, compartment_code="A01")


async def test_garbage_on_the_bus_changes_nothing(kr: Running) -> None:
    kr.rig.bus.inject_garbage(b"\x02\x02\x35\xff\x00", replies=50)
    assert await kr.open("A01") is OpenOutcome.UNLOCKED
    await kr.events.next_matching(DoorOpened, within=EVENT_S, compartment_code="A01")
    assert (await kr.adapter.read_status(LOCKER_ID)).online


async def test_lost_unlock_reply_is_resolved_by_a_safe_read(kr: Running) -> None:
    await kr.rig.lose_next_reply()
    # A poll may lose the reply instead of the unlock: either way, exactly one release.
    assert await kr.open("A02") is OpenOutcome.UNLOCKED
    assert kr.rig.unlock_count("A02") == 1
    await kr.events.next_matching(DoorOpened, within=EVENT_S, compartment_code="A02")


async def test_lost_unlock_reply_on_a_stuck_lock_times_out_and_is_not_resent() -> None:
    async with running(poll_interval_s=30.0) as kr:  # no poll in between: the unlock loses it
        await kr.rig.jam("A01")
        await kr.rig.lose_next_reply()
        with pytest.raises(AdapterTimeout, match="not resending"):
            await kr.open("A01")
        assert kr.rig.unlock_count("A01") == 1
        assert kr.rig.boards.commands[UNLOCK] == 1
        assert kr.rig.boards.commands[READ_ONE] >= 1
        # A second, explicit open is the caller's decision, and works once the lock does.
        kr.rig.bank.set_stuck(0, 1, False)
        assert await kr.open("A01") is OpenOutcome.UNLOCKED
        assert kr.rig.unlock_count("A01") == 2


async def test_lost_unlock_reply_proven_by_the_read() -> None:
    async with running(poll_interval_s=30.0) as kr:
        await kr.rig.lose_next_reply()
        assert await kr.open("B16") is OpenOutcome.UNLOCKED
        assert kr.rig.boards.commands[UNLOCK] == 1
        assert kr.rig.boards.commands[READ_ONE] == 1
        assert kr.rig.bus.replies_dropped == 1


async def test_slow_bus_within_the_timeout(kr: Running) -> None:
    kr.rig.bus.set_slow(reply_delay=0.05, byte_delay=0.01)  # ~0.14 s per reply, timeout 0.3 s
    assert await kr.open("A01") is OpenOutcome.UNLOCKED
    await kr.rig.close_door("A01", item_inside=True)
    closed = await kr.events.next_matching(DoorClosed, within=EVENT_S, compartment_code="A01")
    assert closed.item is ItemSensor.PRESENT


async def test_bus_slower_than_the_timeout_never_unlocks_twice() -> None:
    async with running(poll_interval_s=30.0) as kr:
        kr.rig.bus.set_slow(reply_delay=0.5)  # every reply comes after the 0.3 s timeout
        # The unlock's late status arrives while the safe read waits: a status taken after
        # the release pulse, so it proves the door open.
        assert await kr.open("A02", within=2.0) is OpenOutcome.UNLOCKED
        await kr.rig.jam("A01")
        with pytest.raises(AdapterTimeout):
            await kr.open("A01", within=2.0)
        assert kr.rig.unlock_count("A02") == 1
        assert kr.rig.unlock_count("A01") == 1
        assert kr.rig.boards.commands[UNLOCK] == 2


async def test_board_powered_off_then_on(kr: Running) -> None:
    await kr.rig.disconnect()
    offline = await kr.events.next_matching(PresenceChanged, within=EVENT_S, online=False)
    assert "board" in offline.details["reason"]
    status = await kr.adapter.read_status(LOCKER_ID)
    assert not status.online
    assert not status.booted
    with pytest.raises((LockerNotConnected, AdapterConnectionError)):
        await kr.open("A01")
    assert kr.rig.unlock_count("A01") == 0
    await kr.rig.reconnect()
    online = await kr.events.next_matching(PresenceChanged, within=EVENT_S, online=True)
    assert online.online
    await kr.rig.wait_ready(kr.adapter)
    assert len(kr.host.boots) == 2, "a locker back from a power cut boots again"
    assert await kr.open("A01") is OpenOutcome.UNLOCKED


async def test_door_closed_during_the_outage_is_reported_on_return(kr: Running) -> None:
    await kr.open("A01")
    await kr.events.next_matching(DoorOpened, within=EVENT_S, compartment_code="A01")
    await kr.rig.disconnect()
    await kr.events.next_matching(PresenceChanged, within=EVENT_S, online=False)
    await kr.rig.close_door("A01", item_inside=True)
    await kr.rig.reconnect()
    closed = await kr.events.next_matching(DoorClosed, within=EVENT_S, compartment_code="A01")
    assert closed.item is ItemSensor.PRESENT


async def test_unknown_compartment_touches_nothing(kr: Running) -> None:
    with pytest.raises(AdapterConfigError, match="Z99"):
        await kr.open("Z99")
    assert kr.rig.boards.commands[UNLOCK] == 0
    assert kr.rig.boards.commands[READ_ONE] == 0


async def test_unknown_locker(kr: Running) -> None:
    with pytest.raises(AdapterConfigError):
        await kr.adapter.open_compartment(
            "NOPE", "A01", purpose=OpenPurpose.PICKUP, deadline=kr.host.now() + timedelta(seconds=1)
        )


async def test_deadline_already_passed(kr: Running) -> None:
    with pytest.raises(AdapterTimeout, match="deadline"):
        await kr.adapter.open_compartment(
            LOCKER_ID, "A01", purpose=OpenPurpose.PICKUP, deadline=kr.host.now()
        )
    assert kr.rig.unlock_count("A01") == 0


async def test_quirky_checksum_works_in_lenient_mode(caplog: pytest.LogCaptureFixture) -> None:
    async with running(quirk=KerongQuirk.SUM_WITHOUT_STX, lenient=True) as kr:
        assert await kr.open("B16") is OpenOutcome.UNLOCKED
    assert "checksum without STX accepted" in caplog.text


async def test_quirky_checksum_is_refused_in_strict_mode() -> None:
    async with KerongRig(quirk=KerongQuirk.SUM_WITHOUT_STX) as rig:
        host = RecordingHost()
        async with rig.make_adapter(host) as adapter:
            async with asyncio.timeout(5):
                while not (status := await adapter.read_status(LOCKER_ID)).details.get("error"):
                    await asyncio.sleep(0.02)
            assert "lenient" in status.details["error"]
            assert not status.booted
            assert host.boots == []


async def test_zero_padding_is_line_noise_in_strict_mode() -> None:
    async with running(quirk=KerongQuirk.ZERO_PADDING) as kr:
        assert await kr.open("A01") is OpenOutcome.UNLOCKED
        await kr.rig.close_door("A01", item_inside=False)
        await kr.events.next_matching(DoorClosed, within=EVENT_S, compartment_code="A01")


async def test_two_lockers_share_one_bus() -> None:
    async with KerongRig() as rig:
        compartments = {"size_class": "S"}
        config = KerongCu16Config.model_validate(
            {
                "poll_interval_s": 0.05,
                "lockers": {
                    "LEFT": {
                        "bus_url": rig.bus.url,
                        "compartments": {"L1": {"board": 0, "lock": 1, **compartments}},
                    },
                    "RIGHT": {
                        "bus_url": rig.bus.url,
                        "compartments": {"R1": {"board": 1, "lock": 1, **compartments}},
                    },
                },
            }
        )
        host = RecordingHost()
        async with KerongCu16Adapter(config=config, host=host) as adapter:
            async with asyncio.timeout(5):
                while len(host.boots) < 2:
                    await asyncio.sleep(0.02)
            deadline = host.now() + timedelta(seconds=3)
            results = await asyncio.gather(
                adapter.open_compartment(
                    "LEFT", "L1", purpose=OpenPurpose.DEPOSIT, deadline=deadline
                ),
                adapter.open_compartment(
                    "RIGHT", "R1", purpose=OpenPurpose.DEPOSIT, deadline=deadline
                ),
            )
            assert list(results) == [OpenOutcome.UNLOCKED, OpenOutcome.UNLOCKED]
            assert rig.bank.releases(0, 1) == 1
            assert rig.bank.releases(1, 1) == 1
            assert rig.bank.releases(0, 2) == 0


def _config(**locker: Any) -> dict[str, Any]:
    base = {
        "bus_url": "socket://127.0.0.1:1",
        "compartments": {"A01": {"board": 0, "lock": 1, "size_class": "M"}},
    }
    return {"lockers": {"K1": {**base, **locker}}}


@pytest.mark.parametrize(
    "config",
    [
        {"no_such_option": 1},
        _config(compartments={"A01": {"board": 10, "lock": 1, "size_class": "M"}}),
        _config(compartments={"A01": {"board": 0, "lock": 17, "size_class": "M"}}),
        _config(compartments={"A01": {"board": 0, "lock": 0, "size_class": "M"}}),
        _config(compartments={"A01": {"board": 0, "lock": 1, "size_class": "XXL"}}),
        _config(
            compartments={
                "A01": {"board": 0, "lock": 1, "size_class": "M"},
                "A02": {"board": 0, "lock": 1, "size_class": "M"},
            }
        ),
        _config(compartments={}),
        _config(compartments={"bad code!": {"board": 0, "lock": 1, "size_class": "M"}}),
        _config(wiring="typo"),
        {**_config(), "poll_interval_s": 0},
    ],
)
def test_invalid_configs_are_refused(config: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        KerongCu16Config.model_validate(config)


def test_lockers_on_one_bus_must_not_share_a_board_or_differ_in_baud() -> None:
    wiring = {"A01": {"board": 0, "lock": 1, "size_class": "M"}}
    one = {"bus_url": "/dev/ttyUSB0", "compartments": wiring}
    with pytest.raises(ValidationError, match="both use board 0"):
        KerongCu16Config.model_validate({"lockers": {"K1": one, "K2": one}})
    other = {
        "bus_url": "/dev/ttyUSB0",
        "baudrate": 9600,
        "compartments": {"B01": {"board": 1, "lock": 1, "size_class": "M"}},
    }
    with pytest.raises(ValidationError, match="baud"):
        KerongCu16Config.model_validate({"lockers": {"K1": one, "K2": other}})


def test_a_bad_bus_url_is_refused_at_construction() -> None:
    config = KerongCu16Config.model_validate(_config(bus_url="nosuchscheme://x"))
    with pytest.raises(AdapterConfigError):
        KerongCu16Adapter(config=config, host=RecordingHost())


class StalledGateway(RecordingHost):
    """A gateway whose database stalls: each event waits until the test lets it through."""

    def __init__(self) -> None:
        super().__init__(apply_s=0)
        self.flowing = asyncio.Event()
        self.flowing.set()

    async def locker_event(self, event: LockerEvent) -> None:
        await self.flowing.wait()
        await super().locker_event(event)


async def test_a_stalled_gateway_stops_neither_polling_nor_unlocks() -> None:
    async with KerongRig() as rig:
        host = StalledGateway()
        events = EventCollector(host)
        async with rig.make_adapter(host) as adapter:
            await rig.wait_ready(adapter)
            await events.next_matching(PresenceChanged, within=EVENT_S, online=True)
            host.flowing.clear()
            deadline = host.now() + timedelta(seconds=3)
            outcome = await adapter.open_compartment(
                LOCKER_ID, "A01", purpose=OpenPurpose.DEPOSIT, deadline=deadline
            )
            assert outcome is OpenOutcome.UNLOCKED
            await rig.close_door("A01", item_inside=True)
            # The poll loop goes on: it sees the door shut while the gateway still waits.
            async with asyncio.timeout(EVENT_S):
                while (await adapter.read_status(LOCKER_ID)).compartments[0].door is not (
                    DoorState.CLOSED
                ):
                    await asyncio.sleep(0.02)
            assert (
                await adapter.open_compartment(
                    LOCKER_ID, "A02", purpose=OpenPurpose.DEPOSIT, deadline=deadline
                )
                is OpenOutcome.UNLOCKED
            )
            await events.assert_none(DoorOpened, within=0.2)
            host.flowing.set()
            await events.next_matching(DoorClosed, within=EVENT_S, compartment_code="A01")
            await events.next_matching(DoorOpened, within=EVENT_S, compartment_code="A02")
    doors = [
        (type(e).__name__, e.compartment_code)
        for e in events.of(LOCKER_ID)
        if isinstance(e, DoorOpened | DoorClosed)
    ]
    assert doors == [("DoorOpened", "A01"), ("DoorClosed", "A01"), ("DoorOpened", "A02")]


# 19,200 baud, 8N1: ten bit times per byte.
BYTE_AT_19200_S = 10 / 19200


async def test_a_late_read_all_reply_is_not_taken_for_the_unlock_of_lock_1() -> None:
    # A poll of board 0 (ADDR 00, lock nibble 0) and an unlock of board 0 lock 1 (ADDR 00)
    # carry the same ADDR. One poll's reply comes after its timeout and after the drain before
    # the unlock: it must not be read as the unlock's answer (door shut -> DoorJammed) while
    # the lock fired and the door stands open.
    async with running(reply_timeout_s=1.0, read_retries=0) as r:
        bus, boards = r.rig.bus, r.rig.boards
        bus.set_slow(byte_delay=BYTE_AT_19200_S)
        async with asyncio.timeout(5):
            polls = boards.commands[READ_ALL]
            bus.set_slow(reply_delay=1.7, byte_delay=BYTE_AT_19200_S)
            while boards.commands[READ_ALL] == polls:  # this poll's reply is the slow one
                await asyncio.sleep(0.001)
            bus.set_slow(byte_delay=BYTE_AT_19200_S)
        # Queued behind the poll: the bus drains 0.5 s after the poll's timeout, then waits.
        outcome = await r.open("A01", within=5.0)
        assert outcome is OpenOutcome.UNLOCKED, "the late poll's reply was taken for the unlock's"
        assert r.rig.door_open("A01")
        assert r.rig.unlock_count("A01") == 1
        assert isinstance(r.adapter, KerongCu16Adapter)
        assert r.adapter.stale_replies >= 1


async def test_late_replies_are_counted_not_logged_at_every_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every reply later than the timeout: each poll's retry is answered by the first try's
    # reply, and the retry's own reply arrives while the next board is being read.
    async with running(reply_timeout_s=0.2, read_retries=1, poll_interval_s=0.05) as r:
        adapter = r.adapter
        assert isinstance(adapter, KerongCu16Adapter)
        caplog.set_level("INFO", logger="adapters.kerong_cu16")
        r.rig.bus.set_slow(reply_delay=0.25, byte_delay=BYTE_AT_19200_S)
        async with asyncio.timeout(10):
            while adapter.stale_replies < 6:
                await asyncio.sleep(0.02)
        r.rig.bus.set_slow()
        async with asyncio.timeout(10):
            while not any("again" in rec.getMessage() for rec in caplog.records):
                await asyncio.sleep(0.02)
    stale = [rec for rec in caplog.records if "earlier request" in rec.getMessage()]
    flood = [rec for rec in caplog.records if "dropping a status" in rec.getMessage()]
    assert len(stale) == 1, "one line per episode"
    assert flood == [] or all(rec.levelname == "DEBUG" for rec in flood)
