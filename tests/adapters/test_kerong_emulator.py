"""The emulated Kerong boards on their TCP bus: byte-exact answers, silence, faults, control API."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
from locker_emulator import ControlApi
from locker_emulator.boards import (
    BusFaultError,
    KerongBoards,
    LockBank,
    LockBankError,
    TcpBus,
    update_bus_faults,
)
from locker_emulator.boards.control import BoardBus

READ_ALL_BOARD_0 = bytes.fromhex("02 00 32 03 37")
UNLOCK_BOARD_1_LOCK_4 = bytes.fromhex("02 13 31 03 49")
STATUS_BOARD_1_LOCK_4_OPEN = bytes.fromhex("02 13 35 F7 FF 00 00 03 43")
# A board read (0x32) is answered with command byte 0x36, a lock's read or unlock with 0x35.
READ_ALL_REPLY_BOARD_0 = bytes.fromhex("02 00 36 FF FF 00 00 03 39")


class Client:
    """A raw TCP client of the bus, as a serial device server's client sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def ask(self, frame: bytes, *, expect: int = 9, within: float = 1.0) -> bytes:
        self.writer.write(frame)
        await self.writer.drain()
        data = b""
        async with asyncio.timeout(within):
            while len(data) < expect:
                chunk = await self.reader.read(64)
                if not chunk:
                    break
                data += chunk
        return data

    async def silent(self, frame: bytes, *, within: float = 0.2) -> bool:
        self.writer.write(frame)
        await self.writer.drain()
        try:
            async with asyncio.timeout(within):
                return not await self.reader.read(64)
        except TimeoutError:
            return True


@pytest.fixture
def bank() -> LockBank:
    return LockBank(boards=2)


@pytest.fixture
async def bus(bank: LockBank) -> AsyncIterator[TcpBus]:
    async with TcpBus(handler=KerongBoards(bank=bank)) as tcp:
        yield tcp


@pytest.fixture
async def client(bus: TcpBus) -> AsyncIterator[Client]:
    reader, writer = await asyncio.open_connection("127.0.0.1", bus.port)
    yield Client(reader, writer)
    writer.close()


async def test_unlock_answers_the_status_after_the_pulse(client: Client, bank: LockBank) -> None:
    assert await client.ask(UNLOCK_BOARD_1_LOCK_4) == STATUS_BOARD_1_LOCK_4_OPEN
    assert bank.releases(1, 4) == 1
    assert not bank.door_closed(1, 4)


async def test_chained_boards_answer_for_themselves(client: Client, bank: LockBank) -> None:
    bank.release(1, 4)
    assert await client.ask(READ_ALL_BOARD_0) == READ_ALL_REPLY_BOARD_0
    assert await client.ask(bytes.fromhex("02 13 30 03 48")) == STATUS_BOARD_1_LOCK_4_OPEN


async def test_requests_split_and_glued(client: Client) -> None:
    client.writer.write(UNLOCK_BOARD_1_LOCK_4[:2])
    await client.writer.drain()
    await asyncio.sleep(0.05)
    reply = await client.ask(UNLOCK_BOARD_1_LOCK_4[2:] + READ_ALL_BOARD_0, expect=18)
    assert reply == STATUS_BOARD_1_LOCK_4_OPEN + bytes.fromhex("02 00 36 FF FF 00 00 03 39")


@pytest.mark.parametrize(
    "frame",
    [
        "02 13 31 03 4A",  # bad checksum
        "02 13 31 04 4A",  # no ETX
        "02 23 31 03 59",  # board 2: not on this bus
        "02 13 39 03 51",  # command 0x39: not a Kerong command
        "FF FF 00",  # noise
    ],
)
async def test_silent_like_a_real_board(client: Client, bank: LockBank, frame: str) -> None:
    assert await client.silent(bytes.fromhex(frame))
    assert bank.releases(1, 4) == 0
    # ...and the bus is still in sync afterwards.
    assert await client.ask(UNLOCK_BOARD_1_LOCK_4) == STATUS_BOARD_1_LOCK_4_OPEN


async def test_garbage_and_dropped_replies(client: Client, bus: TcpBus, bank: LockBank) -> None:
    bus.inject_garbage(b"\x5a\x02", replies=1)
    assert await client.ask(READ_ALL_BOARD_0, expect=11) == b"\x5a\x02" + bytes.fromhex(
        "02 00 36 FF FF 00 00 03 39"
    )
    bus.drop_next()
    assert await client.silent(UNLOCK_BOARD_1_LOCK_4)
    assert bank.releases(1, 4) == 1, "a dropped reply still means the command ran"


async def test_stuck_lock_fires_but_stays_shut(client: Client, bank: LockBank) -> None:
    bank.set_stuck(1, 4)
    reply = await client.ask(UNLOCK_BOARD_1_LOCK_4)
    assert reply[3] == 0xFF, "the door hook still reports closed"
    assert bank.releases(1, 4) == 1


async def test_power_off_cuts_and_refuses(client: Client, bus: TcpBus) -> None:
    await bus.power_off()
    assert await client.reader.read(64) == b""
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", bus.port)
    await bus.power_on()
    reader, writer = await asyncio.open_connection("127.0.0.1", bus.port)
    again = Client(reader, writer)
    assert await again.ask(UNLOCK_BOARD_1_LOCK_4) == STATUS_BOARD_1_LOCK_4_OPEN
    writer.close()


def test_lock_bank_refuses_what_hardware_cannot_do(bank: LockBank) -> None:
    with pytest.raises(LockBankError, match="already closed"):
        bank.close(0, 1, item_inside=True)
    with pytest.raises(LockBankError, match="no board 5"):
        bank.release(5, 1)
    with pytest.raises(LockBankError, match="locks 1-16"):
        bank.release(0, 17)
    with pytest.raises(LockBankError):
        KerongBoards(bank=LockBank(boards=[3, 10]))


@pytest.mark.parametrize(
    "changes",
    [
        {"nope": 1},
        {"drop_replies": -1},
        {"drop_replies": True},
        {"reply_delay": "slow"},
        {"garbage": "zz"},
        {"garbage": ""},
        {"powered": "yes"},
    ],
)
def test_bad_bus_fault_settings(changes: dict[str, object]) -> None:
    from locker_emulator.boards import BusFaults

    with pytest.raises(BusFaultError):
        update_bus_faults(BusFaults(), changes)


async def test_control_api_routes(bus: TcpBus, bank: LockBank, client: Client) -> None:
    buses = {"kerong": BoardBus(name="kerong", protocol="kerong", bank=bank, bus=bus)}
    api = ControlApi(lockers={}, port=0, buses=buses)
    await api.start()
    try:
        async with aiohttp.ClientSession(api.url) as http:
            async with http.get("/buses") as answer:
                assert answer.status == 200
                (summary,) = (await answer.json())["buses"]
                assert summary["url"] == bus.url
                assert summary["boards"] == [0, 1]
            await client.ask(UNLOCK_BOARD_1_LOCK_4)
            close = "/buses/kerong/boards/1/locks/4/close"
            async with http.post(close, json={"item_inside": True}) as answer:
                assert answer.status == 200
                assert (await answer.json())["item_present"] is True
            assert bank.door_closed(1, 4)
            assert bank.item_present(1, 4)
            async with http.post(close, json={"item_inside": True}) as answer:
                assert answer.status == 409, "closing a closed door"
            async with http.post(close, json={"item_inside": "yes"}) as answer:
                assert answer.status == 400
            async with http.put(
                "/buses/kerong/boards/0/locks/2/faults", json={"stuck": True}
            ) as answer:
                assert answer.status == 200
            assert bank.stuck(0, 2)
            async with http.put("/buses/kerong/boards/7/locks/2/faults", json={"stuck": True}) as a:
                assert a.status == 404
            async with http.put("/buses/nope/faults", json={}) as answer:
                assert answer.status == 404
            async with http.put(
                "/buses/kerong/faults", json={"drop_replies": 2, "garbage": "ff00"}
            ) as answer:
                assert answer.status == 200
                assert (await answer.json())["drop_replies"] == 2
            assert bus.faults.drop_replies == 2
            async with http.put("/buses/kerong/faults", json={"drop_replies": "x"}) as answer:
                assert answer.status == 400
            async with http.put("/buses/kerong/faults", json={"powered": False}) as answer:
                assert answer.status == 200
            assert not bus.powered
            async with http.put("/buses/kerong/faults", json={"powered": True}) as answer:
                assert answer.status == 200
            async with http.get("/buses/kerong") as answer:
                locks = (await answer.json())["locks"]
                assert locks["1"][3]["releases"] == 1
    finally:
        await api.stop()
    # Powered back on through the API: the bus serves again.
    _, writer = await asyncio.open_connection("127.0.0.1", bus.port)
    writer.close()


async def test_cli_serves_a_bus() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "locker_emulator",
        "kerong",
        "--port",
        "0",
        "--boards",
        "3",
        "--no-control",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = (await process.stdout.readline()).decode()
        assert "3 board(s)" in line
        url = line.split()[-1]
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        board_2 = Client(reader, writer)
        assert await board_2.ask(bytes.fromhex("02 20 32 03 57")) == bytes.fromhex(
            "02 20 36 FF FF 00 00 03 59"
        )
        writer.close()
    finally:
        process.terminate()
        await process.wait()


async def test_cli_refuses_too_many_boards() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "locker_emulator",
        "kerong",
        "--boards",
        "11",
        "--no-control",
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    assert process.returncode == 2
    assert b"--boards must be 1-10" in err
