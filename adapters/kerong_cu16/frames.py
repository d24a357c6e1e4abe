"""The Kerong KR-CU16 frame codec: requests, status replies, checksums and resynchronisation.

Request:  `02 ADDR CMD 03 SUM` (5 bytes).
Reply:    `02 ADDR RCMD H1 H2 I1 I2 03 SUM` (9 bytes), the status of the whole board. RCMD says
          which request it answers: 0x35 (single CU data) answers 0x30 and 0x31, 0x36 (all CU
          data) answers 0x32.

ADDR: high nibble the board (0-9, up to ten boards chained on one bus), low nibble the lock,
0-based: lock 1 is 0x0, lock 16 is 0xF. CMD: 0x30 reads one lock, 0x31 unlocks one lock, 0x32
reads the board (low nibble then 0). H1/H2: door-hook bits of locks 1-8 and 9-16, bit 0 of H1 =
lock 1, bit 7 of H2 = lock 16, set = door closed. I1/I2: the infrared item sensors in the same
order, set = something inside. SUM: the sum of all preceding bytes, modulo 256. The reply
echoes the request's ADDR, lock nibble included. ADDR alone cannot tell a reply from a late
reply to an earlier request: a read of board 0 goes out as ADDR 00, like an unlock of board 0
lock 1. `StatusReader` therefore matches the reply's command byte, length and ADDR.

Firmware quirk (accepted only in lenient mode): some boards compute SUM over ADDR..ETX, leaving
STX out. Trailing 0x00 padding after a reply, seen behind some RS-485 converters, is line noise
to the reader in either mode: it is skipped like any byte that cannot start a frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum

from gateway.sdk import AdapterProtocolError
from gateway.sdk.polling import unpack_bits

log = logging.getLogger(__name__)

STX = 0x02
ETX = 0x03
STATUS = 0x35
STATUS_ALL = 0x36
REQUEST_LENGTH = 5
REPLY_LENGTH = 9
MAX_BOARDS = 10
LOCKS_PER_BOARD = 16


class Command(IntEnum):
    READ_ONE = 0x30
    UNLOCK = 0x31
    READ_ALL = 0x32


# The reply command byte that answers each request command.
REPLY_TO = {Command.READ_ONE: STATUS, Command.UNLOCK: STATUS, Command.READ_ALL: STATUS_ALL}


def checksum(data: bytes) -> int:
    """Sum of the bytes, modulo 256."""
    return sum(data) & 0xFF


def address(board: int, lock: int = 1) -> int:
    """ADDR of board 0-9, lock 1-16."""
    if not 0 <= board < MAX_BOARDS:
        raise ValueError(f"Kerong boards are numbered 0-{MAX_BOARDS - 1}, not {board}")
    if not 1 <= lock <= LOCKS_PER_BOARD:
        raise ValueError(f"Kerong locks are numbered 1-{LOCKS_PER_BOARD}, not {lock}")
    return board << 4 | (lock - 1)


def encode(command: Command, board: int, lock: int = 1) -> bytes:
    """One request frame; READ_ALL ignores the lock and sends low nibble 0."""
    addr = address(board, 1 if command is Command.READ_ALL else lock)
    body = bytes([STX, addr, command, ETX])
    return body + bytes([checksum(body)])


class QuirkyFrame(AdapterProtocolError):
    """A whole, consistent frame that only a known firmware quirk explains (strict mode)."""


@dataclass(frozen=True, slots=True)
class BoardStatus:
    """One board's status reply, decoded."""

    board: int
    address: int
    doors_closed: tuple[bool, ...]
    items: tuple[bool, ...]
    quirk: bool = False
    # The reply command byte: STATUS (a lock's read or unlock) or STATUS_ALL (a board read).
    reply: int = STATUS

    def door_closed(self, lock: int) -> bool:
        return self.doors_closed[lock - 1]

    def item_present(self, lock: int) -> bool:
        return self.items[lock - 1]


def _status(frame: bytes, *, quirk: bool) -> BoardStatus:
    return BoardStatus(
        board=frame[1] >> 4,
        address=frame[1],
        doors_closed=tuple(unpack_bits(frame[3:5], LOCKS_PER_BOARD)),
        items=tuple(unpack_bits(frame[5:7], LOCKS_PER_BOARD)),
        quirk=quirk,
        reply=frame[2],
    )


def decode_status(frame: bytes, *, lenient: bool = False) -> BoardStatus:
    """Decode exactly one 9-byte status reply; AdapterProtocolError if it is not one."""
    if len(frame) != REPLY_LENGTH:
        raise AdapterProtocolError(f"a Kerong status is {REPLY_LENGTH} bytes, not {len(frame)}")
    if frame[0] != STX or frame[2] not in (STATUS, STATUS_ALL) or frame[7] != ETX:
        raise AdapterProtocolError(f"not a Kerong status frame: {frame.hex(' ')}")
    if frame[8] == checksum(frame[:8]):
        return _status(frame, quirk=False)
    if frame[8] == checksum(frame[1:8]):
        if lenient:
            return _status(frame, quirk=True)
        raise QuirkyFrame(
            f"status frame {frame.hex(' ')} has a checksum without STX (a known firmware "
            "quirk); set lenient: true to accept it"
        )
    raise AdapterProtocolError(f"bad checksum in status frame {frame.hex(' ')}")


class StatusReader:
    """A `ReplyReader` for the status reply to one request: resynchronises on anything else.

    Skips bytes until an STX that starts a well-formed status frame; frames with a bad checksum
    are dropped byte-wise. A whole status that does not answer this request is dropped whole
    and counted in `dropped` (a late reply to an earlier request, or another board's): it has
    another board, another reply command byte than `command` asks for, or (with `address`)
    echoes another ADDR. A poll's late status must never be taken for the answer to an unlock,
    and the ADDR of a board read equals that of an unlock of the board's lock 1, so the
    command byte is what tells them apart.
    """

    def __init__(
        self,
        *,
        board: int,
        lenient: bool,
        address: int | None = None,
        command: Command | None = None,
    ) -> None:
        if address is not None and address >> 4 != board:
            raise ValueError(f"ADDR {address:#04x} is not on board {board}")
        self.board = board
        self.address = address
        self.reply = None if command is None else REPLY_TO[command]
        self.lenient = lenient
        self.status: BoardStatus | None = None
        self.skipped = 0
        self.dropped = 0

    def __call__(self, buffer: bytearray) -> bytes | None:
        while True:
            start = buffer.find(STX)
            if start < 0:
                self.skipped += len(buffer)
                buffer.clear()
                return None
            if start:
                self.skipped += start
                del buffer[:start]
            if len(buffer) < REPLY_LENGTH:
                return None
            frame = bytes(buffer[:REPLY_LENGTH])
            try:
                status = decode_status(frame, lenient=self.lenient)
            except QuirkyFrame:
                # Refusing a quirky board clearly beats timing out on every request.
                raise
            except AdapterProtocolError as err:
                log.debug("resynchronising after %s", err)
                self.skipped += 1
                del buffer[:1]
                continue
            if not self._answers(status):
                # Counted, not logged at INFO: on a slow bus this happens at every poll, and
                # the adapter reports it once per episode.
                log.debug(
                    "dropping a status %02x echoing ADDR %02x while waiting for board %d",
                    status.reply,
                    status.address,
                    self.board,
                )
                self.skipped += REPLY_LENGTH
                self.dropped += 1
                del buffer[:REPLY_LENGTH]
                continue
            del buffer[:REPLY_LENGTH]
            self.status = status
            return frame

    def _answers(self, status: BoardStatus) -> bool:
        return (
            status.board == self.board
            and self.address in (None, status.address)
            and self.reply in (None, status.reply)
        )
