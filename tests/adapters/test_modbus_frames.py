"""Captured Modbus frames (tests/adapters/frames/modbus_*.frames) against both implementations:
the emulator's hand-written codec answers them byte for byte, and pymodbus (the adapter's
client) sends exactly them, as captured through the emulator's TCP server."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from locker_emulator.boards import LockBank, TcpBus
from locker_emulator.boards.modbus import Framing, ModbusController
from locker_emulator.boards.modbus_frames import crc16, rtu_frame, tcp_frame
from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.pdu import ExceptionResponse

from gateway.sdk.testing.host import RecordingHost
from tests.adapters.modbus_rig import ModbusRig, Recorder

FRAMES = Path(__file__).parent / "frames"
UNIT = 7
# The session of the fixture files, in order; the stuck lock is set before the seventh.
SESSION = (
    "poll_doors",
    "unlock_lock_2",
    "read_back_doors",
    "poll_items",
    "poll_faults",
    "bad_address",
    "unlock_stuck_lock_1",
    "faults_after_stuck",
)


def load_frames(path: Path) -> dict[str, bytes]:
    """`[name]` sections of hex bytes; everything after `#` is commentary."""
    frames: dict[str, bytes] = {}
    name: str | None = None
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            name = line[1:-1]
            frames[name] = b""
            continue
        assert name is not None, f"{path.name}: bytes before the first [section]"
        frames[name] += bytes.fromhex(line)
    return frames


def fixture(framing: Framing) -> dict[str, bytes]:
    return load_frames(FRAMES / f"modbus_{framing}.frames")


def session_bank() -> LockBank:
    bank = LockBank(boards=[UNIT], locks_per_board=3)
    bank.set_item(UNIT, 3, True)
    return bank


@pytest.fixture(params=[Framing.TCP, Framing.RTU], ids=["tcp", "rtu"])
def framing(request: pytest.FixtureRequest) -> Framing:
    value: Framing = request.param
    return value


def test_crc16_modbus_check_value() -> None:
    # The catalogue check value of CRC-16/MODBUS: the CRC of the ASCII digits 1 to 9.
    assert crc16(b"123456789") == 0x4B37


def test_fixture_files_are_well_formed(framing: Framing) -> None:
    frames = fixture(framing)
    assert set(frames) == {f"{n}.{d}" for n in SESSION for d in ("request", "reply")}
    for name, frame in frames.items():
        if framing is Framing.RTU:
            (crc,) = struct.unpack("<H", frame[-2:])
            assert crc16(frame[:-2]) == crc, f"{name}: CRC"
            assert frame == rtu_frame(frame[0], frame[1:-2])
        else:
            transaction, protocol, length, unit = struct.unpack(">HHHB", frame[:7])
            assert protocol == 0, name
            assert length == len(frame) - 6, f"{name}: MBAP length"
            assert frame == tcp_frame(transaction, unit, frame[7:])


def test_the_emulator_answers_the_session_byte_exact(framing: Framing) -> None:
    frames = fixture(framing)
    bank = session_bank()
    controller = ModbusController(bank=bank, framing=framing)
    for name in SESSION:
        if name == "unlock_stuck_lock_1":
            bank.set_stuck(UNIT, 1)
        replies = controller.feed(frames[f"{name}.request"])
        assert replies == [frames[f"{name}.reply"]], name
    assert bank.releases(UNIT, 2) == 1
    assert bank.releases(UNIT, 1) == 1
    assert not bank.door_closed(UNIT, 2)
    assert bank.door_closed(UNIT, 1)


async def test_pymodbus_sends_exactly_the_captured_requests(framing: Framing) -> None:
    frames = fixture(framing)
    bank = session_bank()
    recorder = Recorder(ModbusController(bank=bank, framing=framing))
    async with TcpBus(handler=recorder) as bus:
        if framing is Framing.TCP:
            client: AsyncModbusTcpClient | AsyncModbusSerialClient = AsyncModbusTcpClient(
                "127.0.0.1", port=bus.port, timeout=2, retries=0, reconnect_delay=0
            )
        else:
            client = AsyncModbusSerialClient(
                bus.url, framer=FramerType.RTU, timeout=2, retries=0, reconnect_delay=0
            )
        assert await client.connect()
        try:
            doors = await client.read_discrete_inputs(0, count=3, device_id=UNIT)
            assert doors.bits[:3] == [True, True, True]
            echo = await client.write_coil(1, True, device_id=UNIT)
            assert (echo.address, echo.bits[0]) == (1, True)
            doors = await client.read_discrete_inputs(0, count=3, device_id=UNIT)
            assert doors.bits[:3] == [True, False, True]
            items = await client.read_discrete_inputs(1000, count=3, device_id=UNIT)
            assert items.bits[:3] == [False, False, True]
            faults = await client.read_input_registers(0, count=1, device_id=UNIT)
            assert faults.registers == [0]
            refused = await client.read_discrete_inputs(10, count=3, device_id=UNIT)
            assert isinstance(refused, ExceptionResponse)
            assert refused.exception_code == 2
            bank.set_stuck(UNIT, 1)
            await client.write_coil(0, True, device_id=UNIT)
            faults = await client.read_input_registers(0, count=1, device_id=UNIT)
            assert faults.registers == [1]
        finally:
            client.close()
    assert recorder.received == [frames[f"{name}.request"] for name in SESSION]


async def test_the_adapter_polls_with_the_captured_rtu_frames() -> None:
    frames = fixture(Framing.RTU)
    async with ModbusRig(framing=Framing.RTU, unit=UNIT, locks=3) as rig:
        adapter = rig.make_adapter(RecordingHost(), poll_interval_s=5)
        async with adapter:
            await rig.wait_ready(adapter)
    polls = [frames[f"{name}.request"] for name in ("poll_doors", "poll_items", "poll_faults")]
    assert rig.line.received[:3] == polls


# ---- what a controller does with broken or unusual requests ------------------------------


def test_rtu_resyncs_after_garbage_and_ignores_a_bad_crc() -> None:
    frames = fixture(Framing.RTU)
    controller = ModbusController(bank=session_bank(), framing=Framing.RTU)
    request, reply = frames["poll_doors.request"], frames["poll_doors.reply"]
    assert controller.feed(b"\xff\x00\x5a" + request) == [reply]
    corrupted = request[:-1] + bytes([request[-1] ^ 0x01])
    assert controller.feed(corrupted) == []  # a real slave stays silent
    assert controller.feed(request[:3]) == []  # half a frame: wait for the rest
    assert controller.feed(request[3:]) == [reply]
    assert controller.ignored_frames > 0


def test_rtu_broadcast_is_executed_without_a_reply() -> None:
    bank = session_bank()
    controller = ModbusController(bank=bank, framing=Framing.RTU)
    assert controller.feed(rtu_frame(0, bytes.fromhex("05 0002 ff00"))) == []
    assert bank.releases(UNIT, 3) == 1
    # Another unit's frame is none of this controller's business.
    assert controller.feed(rtu_frame(9, bytes.fromhex("05 0000 ff00"))) == []
    assert bank.releases(UNIT, 1) == 0


def test_tcp_unknown_unit_and_function_get_exceptions() -> None:
    controller = ModbusController(bank=session_bank(), framing=Framing.TCP)
    # A unit not behind this device: 0x0B, gateway target device failed to respond.
    reply = controller.feed(tcp_frame(9, 42, bytes.fromhex("02 0000 0003")))
    assert reply == [tcp_frame(9, 42, bytes.fromhex("82 0b"))]
    # Function 0x2B (read device identification) is not served: 01, illegal function.
    reply = controller.feed(tcp_frame(10, UNIT, bytes.fromhex("2b 0e 01 00")))
    assert reply == [tcp_frame(10, UNIT, bytes.fromhex("ab 01"))]
    # A coil value other than 0xFF00 or 0x0000: 03, illegal data value.
    reply = controller.feed(tcp_frame(11, UNIT, bytes.fromhex("05 0000 1234")))
    assert reply == [tcp_frame(11, UNIT, bytes.fromhex("85 03"))]


def test_rtu_unknown_function_with_a_good_crc_gets_an_exception() -> None:
    controller = ModbusController(bank=session_bank(), framing=Framing.RTU)
    reply = controller.feed(rtu_frame(UNIT, bytes.fromhex("2b 0e 01 00")))
    assert reply == [rtu_frame(UNIT, bytes.fromhex("ab 01"))]


def test_tcp_header_with_a_foreign_protocol_id_is_dropped() -> None:
    frames = fixture(Framing.TCP)
    controller = ModbusController(bank=session_bank(), framing=Framing.TCP)
    foreign = bytes.fromhex("0001 0001 0006 07 02 0000 0003")
    assert controller.feed(foreign) == []
    assert controller.ignored_frames == 1
    assert controller.feed(frames["poll_doors.request"]) == [frames["poll_doors.reply"]]


def test_write_multiple_coils_fires_each_lock_set() -> None:
    bank = session_bank()
    controller = ModbusController(bank=bank, framing=Framing.TCP)
    # Function 0F, coils 0-2, one data byte 0b101: locks 1 and 3.
    reply = controller.feed(tcp_frame(1, UNIT, bytes.fromhex("0f 0000 0003 01 05")))
    assert reply == [tcp_frame(1, UNIT, bytes.fromhex("0f 0000 0003"))]
    assert [bank.releases(UNIT, n) for n in (1, 2, 3)] == [1, 0, 1]
