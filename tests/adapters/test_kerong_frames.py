"""The Kerong codec against the reference frames, and the emulated board against the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from locker_emulator.boards import KerongBoards, KerongQuirk, LockBank

from adapters.kerong_cu16 import frames
from gateway.sdk import AdapterProtocolError

FIXTURES = yaml.safe_load(
    (Path(__file__).parent / "frames" / "kerong_cu16.yaml").read_text(encoding="utf-8")
)


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


def _ids(section: str) -> list[str]:
    return [case["name"] for case in FIXTURES[section]]


@pytest.mark.parametrize("case", FIXTURES["requests"], ids=_ids("requests"))
def test_requests_encode_byte_exact(case: dict[str, Any]) -> None:
    command = frames.Command[case["command"]]
    assert frames.encode(command, case["board"], case["lock"]) == _hex(case["frame"])


@pytest.mark.parametrize("case", FIXTURES["requests"], ids=_ids("requests"))
def test_request_checksums(case: dict[str, Any]) -> None:
    frame = _hex(case["frame"])
    assert frames.checksum(frame[:-1]) == frame[-1]


def _expect_status(status: frames.BoardStatus, case: dict[str, Any]) -> None:
    assert status.board == case["board"]
    assert status.address == case["address"]
    opened = [lock for lock in range(1, 17) if not status.door_closed(lock)]
    items = [lock for lock in range(1, 17) if status.item_present(lock)]
    assert opened == case["open"]
    assert items == case["items"]


@pytest.mark.parametrize("case", FIXTURES["statuses"], ids=_ids("statuses"))
def test_statuses_decode(case: dict[str, Any]) -> None:
    status = frames.decode_status(_hex(case["frame"]))
    _expect_status(status, case)
    assert not status.quirk


@pytest.mark.parametrize("case", FIXTURES["statuses"], ids=_ids("statuses"))
def test_emulated_board_answers_the_same_bytes(case: dict[str, Any]) -> None:
    """The emulator's status for the same lock states is the reference frame, byte for byte."""
    bank = LockBank(boards=range(10))
    for lock in case["open"]:
        bank.release(case["board"], lock)
    for lock in case["items"]:
        bank.set_item(case["board"], lock, True)
    assert KerongBoards(bank=bank).status_frame(case["address"]) == _hex(case["frame"])


@pytest.mark.parametrize("case", FIXTURES["broken"], ids=_ids("broken"))
@pytest.mark.parametrize("lenient", [False, True])
def test_broken_frames_are_refused(case: dict[str, Any], lenient: bool) -> None:
    with pytest.raises(AdapterProtocolError):
        frames.decode_status(_hex(case["frame"]), lenient=lenient)


@pytest.mark.parametrize("case", FIXTURES["quirks"], ids=_ids("quirks"))
def test_quirky_checksum_only_in_lenient_mode(case: dict[str, Any]) -> None:
    frame = _hex(case["frame"])
    with pytest.raises(frames.QuirkyFrame, match="lenient"):
        frames.decode_status(frame)
    status = frames.decode_status(frame, lenient=True)
    _expect_status(status, case)
    assert status.quirk


@pytest.mark.parametrize("case", FIXTURES["quirks"], ids=_ids("quirks"))
def test_emulated_quirk_matches_the_reference(case: dict[str, Any]) -> None:
    bank = LockBank(boards=range(10))
    for lock in case["items"]:
        bank.set_item(case["board"], lock, True)
    boards = KerongBoards(bank=bank, quirk=KerongQuirk.SUM_WITHOUT_STX)
    assert boards.status_frame(case["address"]) == _hex(case["frame"])


@pytest.mark.parametrize("case", FIXTURES["streams"], ids=_ids("streams"))
def test_reader_resynchronises_on_streams(case: dict[str, Any]) -> None:
    reader = frames.StatusReader(board=case["board"], lenient=False)
    buffer = bytearray(_hex(case["stream"]))
    assert reader(buffer) == _hex(case["frame"])
    assert reader.status is not None
    assert reader.status.board == case["board"]


@pytest.mark.parametrize("case", FIXTURES["streams"], ids=_ids("streams"))
def test_reader_with_the_stream_split_byte_by_byte(case: dict[str, Any]) -> None:
    reader = frames.StatusReader(board=case["board"], lenient=False)
    buffer = bytearray()
    found = None
    for byte in _hex(case["stream"]):
        buffer.append(byte)
        found = found or reader(buffer)
    assert found == _hex(case["frame"])


def test_reader_waits_for_a_partial_frame() -> None:
    reader = frames.StatusReader(board=1, lenient=False)
    buffer = bytearray(_hex("5A 02 13 35 F7"))
    assert reader(buffer) is None
    assert buffer == bytearray(_hex("02 13 35 F7")), "noise dropped, the frame's start kept"


def test_reader_refuses_a_quirky_board_clearly_in_strict_mode() -> None:
    reader = frames.StatusReader(board=2, lenient=False)
    with pytest.raises(frames.QuirkyFrame):
        reader(bytearray(_hex(FIXTURES["quirks"][0]["frame"])))


def test_reader_drops_a_late_status_echoing_another_lock() -> None:
    # Waiting for the answer to an unlock of board 0 lock 3 (ADDR 0x02). First comes the late
    # answer to a poll of board 0 (ADDR 0x00, all doors shut), then the unlock's own answer.
    late = bytes([0x02, 0x00, 0x35, 0xFF, 0xFF, 0x00, 0x00, 0x03])  # STX ADDR=00 35 H1 H2 I1 I2 ETX
    late += bytes([frames.checksum(late)])  # SUM = 02+00+35+FF+FF+03 = 0x238 -> 0x38
    assert late[-1] == 0x38
    own = bytes([0x02, 0x02, 0x35, 0xFB, 0xFF, 0x00, 0x00, 0x03])  # H1=FB: lock 3's hook open
    own += bytes([frames.checksum(own)])  # SUM = 0x238 - 4 + 2 -> 0x36
    assert own[-1] == 0x36
    reader = frames.StatusReader(board=0, lenient=False, address=frames.address(0, 3))
    buffer = bytearray(late + own)
    assert reader(buffer) == own
    assert reader.status is not None
    assert not reader.status.door_closed(3)
    assert reader.skipped == len(late)


def test_reader_address_must_be_on_its_board() -> None:
    with pytest.raises(ValueError, match="not on board"):
        frames.StatusReader(board=1, lenient=False, address=frames.address(0, 3))


@pytest.mark.parametrize(("board", "lock"), [(-1, 1), (10, 1), (0, 0), (0, 17)])
def test_addresses_out_of_range(board: int, lock: int) -> None:
    with pytest.raises(ValueError, match="numbered"):
        frames.encode(frames.Command.UNLOCK, board, lock)


def test_reader_of_an_unlock_drops_a_board_read_with_the_same_addr() -> None:
    # A read of board 0 goes out as ADDR 00, like an unlock of board 0 lock 1; its late reply
    # (all doors shut) carries ADDR 00 too and differs only by its command byte, 36 not 35.
    late_read_all = bytes([0x02, 0x00, 0x36, 0xFF, 0xFF, 0x00, 0x00, 0x03])
    late_read_all += bytes([frames.checksum(late_read_all)])
    unlocked = bytes([0x02, 0x00, 0x35, 0xFE, 0xFF, 0x00, 0x00, 0x03])  # H1=FE: lock 1 open
    unlocked += bytes([frames.checksum(unlocked)])
    reader = frames.StatusReader(
        board=0, lenient=False, address=frames.address(0, 1), command=frames.Command.UNLOCK
    )
    buffer = bytearray(late_read_all + unlocked)
    assert reader(buffer) == unlocked
    assert reader.status is not None
    assert not reader.status.door_closed(1)
    assert reader.dropped == 1
    poll = frames.StatusReader(
        board=0, lenient=False, address=frames.address(0, 1), command=frames.Command.READ_ALL
    )
    assert poll(bytearray(unlocked + late_read_all)) == late_read_all
    assert poll.dropped == 1
