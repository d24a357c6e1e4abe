"""Emulated Kerong KR-CU16-style lock boards: up to ten chained on one RS-485 bus, byte-exact.

Request `02 ADDR CMD 03 SUM`; ADDR's high nibble is the board (0-9), its low nibble the lock
(0-based: lock 1 is 0x0). CMD 0x31 fires one lock, 0x30 reads one, 0x32 reads the whole board.
Every answer is the board's status `02 ADDR RCMD H1 H2 I1 I2 03 SUM`: RCMD 0x35 answers 0x30 and
0x31, 0x36 answers 0x32; H1/H2 the door-hook bits of
locks 1-8 / 9-16 (bit 0 = lock 1, set = door closed), I1/I2 the item-sensor bits (set = item).
SUM is the sum of all preceding bytes, modulo 256. Like real boards, a board stays silent on a
frame with a bad checksum or ETX, for another board's address, or with a command it lacks.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from enum import StrEnum

from locker_emulator.boards.lock_bank import LockBank, LockBankError

log = logging.getLogger("locker_emulator.boards.kerong")

STX = 0x02
ETX = 0x03
READ_ONE = 0x30
UNLOCK = 0x31
READ_ALL = 0x32
STATUS = 0x35
STATUS_ALL = 0x36
MAX_BOARDS = 10
LOCKS_PER_BOARD = 16
REQUEST_LENGTH = 5


class KerongQuirk(StrEnum):
    """Firmware quirks seen on real boards, for testing adapters' lenient mode."""

    # Some firmware sums only ADDR..ETX, leaving STX out of the checksum.
    SUM_WITHOUT_STX = "sum_without_stx"
    # Some RS-485 converters pad every reply with a trailing 0x00.
    ZERO_PADDING = "zero_padding"


def checksum(data: bytes) -> int:
    """Sum of the bytes, modulo 256."""
    return sum(data) & 0xFF


def _bits(values: Sequence[bool]) -> int:
    return sum(1 << index for index, value in enumerate(values) if value)


class KerongBoards:
    """The boards of one bus; a `BusProtocol` for `TcpBus`. Board b of the bus is bank board b."""

    def __init__(self, *, bank: LockBank, quirk: KerongQuirk | None = None) -> None:
        if bank.locks_per_board > LOCKS_PER_BOARD:
            raise LockBankError(f"a Kerong board has at most {LOCKS_PER_BOARD} locks")
        if any(board >= MAX_BOARDS for board in bank.boards):
            raise LockBankError(f"Kerong boards are addressed 0-{MAX_BOARDS - 1}: {bank.boards}")
        self.bank = bank
        self.quirk = quirk
        self._buffer = bytearray()
        self.ignored_frames = 0
        # Well-formed requests for a present board, by command byte (0x30, 0x31, 0x32...).
        self.commands: Counter[int] = Counter()

    def feed(self, data: bytes) -> list[bytes]:
        """Take raw bus bytes; return the replies of every complete request among them."""
        self._buffer.extend(data)
        replies: list[bytes] = []
        while True:
            start = self._buffer.find(STX)
            if start < 0:
                self._buffer.clear()
                return replies
            del self._buffer[:start]
            if len(self._buffer) < REQUEST_LENGTH:
                return replies
            frame = bytes(self._buffer[:REQUEST_LENGTH])
            if frame[3] != ETX or frame[4] != checksum(frame[:4]):
                # Not a frame after all: this STX was noise, look for the next one.
                self.ignored_frames += 1
                del self._buffer[:1]
                continue
            del self._buffer[:REQUEST_LENGTH]
            reply = self._answer(frame[1], frame[2])
            if reply is not None:
                replies.append(reply)

    def _answer(self, address: int, command: int) -> bytes | None:
        board, lock = address >> 4, (address & 0x0F) + 1
        if not self.bank.has_board(board) or lock > self.bank.locks_per_board:
            self.ignored_frames += 1
            return None
        self.commands[command] += 1
        if command == UNLOCK:
            opened = self.bank.release(board, lock)
            log.info(
                "board %d lock %d released (door %s)", board, lock, "open" if opened else "stuck"
            )
        elif command not in (READ_ONE, READ_ALL):
            self.ignored_frames += 1
            return None
        return self.status_frame(address, STATUS_ALL if command == READ_ALL else STATUS)

    def status_frame(self, address: int, reply: int = STATUS) -> bytes:
        """The status reply (`reply`: STATUS or STATUS_ALL) of the board in ADDR's high nibble,
        echoing ADDR."""
        board = address >> 4
        doors = self.bank.door_bits(board)
        items = self.bank.item_bits(board)
        door_bits, item_bits = _bits(doors), _bits(items)
        body = bytes(
            [
                STX,
                address,
                reply,
                door_bits & 0xFF,
                door_bits >> 8,
                item_bits & 0xFF,
                item_bits >> 8,
                ETX,
            ]
        )
        if self.quirk is KerongQuirk.SUM_WITHOUT_STX:
            return body + bytes([checksum(body[1:])])
        frame = body + bytes([checksum(body)])
        if self.quirk is KerongQuirk.ZERO_PADDING:
            return frame + b"\x00"
        return frame
