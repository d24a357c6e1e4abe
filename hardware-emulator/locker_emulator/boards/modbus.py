"""An emulated generic Modbus lock controller (RTU or TCP framing) over a LockBank, byte-exact.

The register map (OpenLocker's own, for a generic controller; lock n is 1-based as printed on
the terminal block, offsets configurable):

- coil `coil_base + n - 1`: writing 1 fires lock n; the controller resets it (reads 0);
- discrete input `door_base + n - 1`: 1 = door n closed (hook engaged);
- discrete input `item_base + n - 1`: 1 = item sensor n sees something;
- input register `fault_base + (n - 1) // 16`, bit `(n - 1) % 16`: 1 = lock n fired but its
  latch did not release.

Function codes 01, 02, 04, 05 and 0F. Each bank board is one unit (slave) id. RTU: a frame
with a bad CRC or for another unit is ignored in silence, broadcasts (unit 0) are executed
without a reply. TCP: a request for a unit not present gets exception 0x0B, as a gateway does.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from enum import StrEnum

from locker_emulator.boards.lock_bank import LockBank, LockBankError
from locker_emulator.boards.modbus_frames import (
    ExceptionCode,
    Function,
    ModbusException,
    ReadRequest,
    Request,
    RtuDeframer,
    TcpDeframer,
    WriteCoils,
    bits_reply,
    exception_reply,
    parse_pdu,
    registers_reply,
    rtu_frame,
    tcp_frame,
    write_multiple_reply,
    write_single_reply,
)

log = logging.getLogger("locker_emulator.boards.modbus")

MAX_UNIT = 247
# Over TCP a frame arrives in one piece or in pieces milliseconds apart; a pause this long
# plays the role of the RTU inter-frame silence and ends any partial frame.
RTU_SILENCE_S = 0.1
_WRITES = (Function.WRITE_SINGLE_COIL, Function.WRITE_MULTIPLE_COILS)


class Framing(StrEnum):
    RTU = "rtu"
    TCP = "tcp"


class ModbusQuirk(StrEnum):
    """Firmware quirks seen on real controllers, for testing adapters' lenient mode."""

    # The write-single-coil echo carries the coil's state after the self-resetting pulse
    # (0x0000) instead of the value written (0xFF00).
    ECHO_COIL_STATE = "echo_coil_state"


@dataclass(frozen=True, slots=True)
class RegisterMap:
    coil_base: int = 0
    door_base: int = 0
    item_base: int = 1000
    fault_base: int = 0


class ModbusController:
    """The controllers of one bus (or one TCP device); a `BusProtocol` for `TcpBus`."""

    def __init__(
        self,
        *,
        bank: LockBank,
        framing: Framing = Framing.TCP,
        registers: RegisterMap | None = None,
        quirk: ModbusQuirk | None = None,
    ) -> None:
        if any(not 1 <= unit <= MAX_UNIT for unit in bank.boards):
            raise LockBankError(f"Modbus unit ids are 1-{MAX_UNIT}: {bank.boards}")
        self.bank = bank
        self.framing = framing
        self.registers = registers or RegisterMap()
        self.quirk = quirk
        # Answer every request with this exception (busy, device failure) while set.
        self.forced_exception: ExceptionCode | None = None
        # The replies to the next N writes are lost on the line; the writes are still executed
        # (unlike the bus's drop fault, which takes whichever reply comes next, a poll's too).
        self.lose_write_replies = 0
        self._rtu = RtuDeframer()
        self._tcp = TcpDeframer()
        self._last_data = 0.0
        self._fault_latch: set[tuple[int, int]] = set()
        self.requests = 0
        self.exceptions = 0

    @property
    def ignored_frames(self) -> int:
        """Frames dropped in silence: bad CRC or garbage (RTU), a lost MBAP stream (TCP)."""
        return self._rtu.dropped + self._tcp.lost

    def feed(self, data: bytes) -> list[bytes]:
        """Take raw bytes from the line; return the reply ADUs of every complete request."""
        now = time.monotonic()
        if self.framing is Framing.RTU and now - self._last_data > RTU_SILENCE_S:
            self._rtu.reset()
        self._last_data = now
        deframer = self._rtu if self.framing is Framing.RTU else self._tcp
        replies: list[bytes] = []
        for request in deframer.feed(data):
            reply = self._answer(request)
            if reply is not None:
                replies.append(reply)
        return replies

    def fault_bits(self, unit: int) -> list[bool]:
        """Per lock of one unit: True while its last release left the door shut."""
        return [(unit, n) in self._fault_latch for n, _ in self.bank.locks(unit)]

    # ---- one request ---------------------------------------------------------------------

    def _answer(self, request: Request) -> bytes | None:
        self.requests += 1
        if self.framing is Framing.RTU:
            if request.unit == 0:
                self._broadcast(request.pdu)
                return None
            if not self.bank.has_board(request.unit):
                return None  # another slave's frame
            pdu = self._pdu_reply(request.unit, request.pdu)
            return None if self._lose(pdu) else rtu_frame(request.unit, pdu)
        transaction = request.transaction or 0
        if not self.bank.has_board(request.unit):
            pdu = exception_reply(request.function, ExceptionCode.GATEWAY_TARGET_FAILED)
            self.exceptions += 1
        else:
            pdu = self._pdu_reply(request.unit, request.pdu)
        return None if self._lose(pdu) else tcp_frame(transaction, request.unit, pdu)

    def _lose(self, reply: bytes) -> bool:
        if self.lose_write_replies <= 0 or reply[0] not in _WRITES:
            return False
        self.lose_write_replies -= 1
        log.info("reply %s lost on the line", reply.hex(" "))
        return True

    def _broadcast(self, pdu: bytes) -> None:
        try:
            parsed = parse_pdu(pdu)
        except ModbusException:
            return
        if isinstance(parsed, WriteCoils):
            for unit in self.bank.boards:
                try:
                    self._write(unit, parsed)
                except ModbusException:
                    continue

    def _pdu_reply(self, unit: int, pdu: bytes) -> bytes:
        try:
            if self.forced_exception is not None:
                raise ModbusException(self.forced_exception, "forced by the control API")
            parsed = parse_pdu(pdu)
            if isinstance(parsed, ReadRequest):
                return self._read(unit, parsed)
            return self._write(unit, parsed)
        except ModbusException as err:
            self.exceptions += 1
            log.info("unit %d: exception 0x%02X for %s: %s", unit, err.code, pdu.hex(" "), err)
            return exception_reply(pdu[0], err.code)

    def _read(self, unit: int, request: ReadRequest) -> bytes:
        regs = self.registers
        if request.function is Function.READ_COILS:
            self._locks_in(request.address, request.count, regs.coil_base)
            return bits_reply(request.function, [False] * request.count)
        if request.function is Function.READ_DISCRETE_INPUTS:
            if self._within(request.address, request.count, regs.door_base, self._locks):
                first = request.address - regs.door_base
                doors = self.bank.door_bits(unit)[first : first + request.count]
                return bits_reply(request.function, doors)
            first = self._locks_in(request.address, request.count, regs.item_base)
            items = self.bank.item_bits(unit)[first : first + request.count]
            return bits_reply(request.function, items)
        words = (self._locks + 15) // 16
        if not self._within(request.address, request.count, regs.fault_base, words):
            raise ModbusException(
                ExceptionCode.ILLEGAL_DATA_ADDRESS,
                f"input registers {request.address}+{request.count} not present",
            )
        bits = self.fault_bits(unit)
        values = [
            sum(1 << b for b in range(16) if w * 16 + b < len(bits) and bits[w * 16 + b])
            for w in range(words)
        ]
        first = request.address - regs.fault_base
        return registers_reply(values[first : first + request.count])

    def _write(self, unit: int, request: WriteCoils) -> bytes:
        first = self._locks_in(request.address, len(request.values), self.registers.coil_base)
        for offset, fire in enumerate(request.values):
            if fire:
                self._release(unit, first + offset + 1)
        if not request.single:
            return write_multiple_reply(request.address, len(request.values))
        echoed = request.values[0] and self.quirk is not ModbusQuirk.ECHO_COIL_STATE
        return write_single_reply(request.address, echoed)

    def _release(self, unit: int, lock: int) -> None:
        was_open = not self.bank.door_closed(unit, lock)
        opened = self.bank.release(unit, lock)
        if opened or was_open:
            self._fault_latch.discard((unit, lock))
        else:
            self._fault_latch.add((unit, lock))
        log.info("unit %d lock %d released (door %s)", unit, lock, "open" if opened else "stuck")

    # ---- addresses -----------------------------------------------------------------------

    @property
    def _locks(self) -> int:
        return self.bank.locks_per_board

    @staticmethod
    def _within(address: int, count: int, base: int, size: int) -> bool:
        return base <= address and address + count <= base + size

    def _locks_in(self, address: int, count: int, base: int) -> int:
        """The 0-based first lock of a block read or write; exception 02 outside the block."""
        if not self._within(address, count, base, self._locks):
            raise ModbusException(
                ExceptionCode.ILLEGAL_DATA_ADDRESS,
                f"addresses {address}..{address + count - 1} "
                f"outside {base}..{base + self._locks - 1}",
            )
        return address - base
