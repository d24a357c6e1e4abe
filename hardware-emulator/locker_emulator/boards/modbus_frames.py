"""Modbus frames written by hand: CRC-16/MODBUS, RTU and TCP (MBAP) framing, the PDUs we serve.

This is the emulator's own reading of the Modbus Application Protocol and of the serial-line
and TCP implementation guides; it shares no code with the gateway's client library, so when
the two interoperate, two independent implementations agree.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

# PDU lengths of the requests whose size the function code alone fixes (unit and CRC excluded).
_FIXED_REQUEST_PDU = {0x01: 5, 0x02: 5, 0x03: 5, 0x04: 5, 0x05: 5, 0x06: 5}
# Function codes with a byte count at PDU offset 5 (0F, 10): header 6 bytes, then the data.
_COUNTED_REQUEST = (0x0F, 0x10)
MAX_PDU = 253  # 256-byte RTU ADU minus unit and CRC; the same limit holds for Modbus TCP.


class Function(IntEnum):
    READ_COILS = 0x01
    READ_DISCRETE_INPUTS = 0x02
    READ_INPUT_REGISTERS = 0x04
    WRITE_SINGLE_COIL = 0x05
    WRITE_MULTIPLE_COILS = 0x0F


class ExceptionCode(IntEnum):
    ILLEGAL_FUNCTION = 0x01
    ILLEGAL_DATA_ADDRESS = 0x02
    ILLEGAL_DATA_VALUE = 0x03
    SERVER_DEVICE_FAILURE = 0x04
    SERVER_DEVICE_BUSY = 0x06
    GATEWAY_TARGET_FAILED = 0x0B


class ModbusException(Exception):
    """A request the controller refuses with an exception response."""

    def __init__(self, code: ExceptionCode, message: str) -> None:
        super().__init__(message)
        self.code = code


# ---- CRC-16/MODBUS ---------------------------------------------------------------------------


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (reflected polynomial 0xA001, initial 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ byte) & 0xFF]
    return crc


def rtu_frame(unit: int, pdu: bytes) -> bytes:
    """An RTU ADU: unit, PDU, CRC (low byte first)."""
    body = bytes([unit]) + pdu
    return body + struct.pack("<H", crc16(body))


def tcp_frame(transaction: int, unit: int, pdu: bytes) -> bytes:
    """A Modbus TCP ADU: MBAP header (transaction, protocol 0, length, unit), then the PDU."""
    return struct.pack(">HHHB", transaction, 0, len(pdu) + 1, unit) + pdu


# ---- requests --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One request ADU as received: who it is for, the PDU, and the MBAP transaction (TCP)."""

    unit: int
    pdu: bytes
    transaction: int | None = None

    @property
    def function(self) -> int:
        return self.pdu[0]


class RtuDeframer:
    """Cuts a byte stream into RTU requests. A frame whose CRC fails is dropped without a
    word, as a real slave does; the search then resumes one byte later, so leading garbage
    costs one frame at most."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.dropped = 0

    def reset(self) -> None:
        """Forget a partial frame (a silence longer than 3.5 characters ends any frame)."""
        self._buffer.clear()

    def feed(self, data: bytes) -> list[Request]:
        self._buffer += data
        requests: list[Request] = []
        while len(self._buffer) >= 4:
            size = _rtu_request_size(self._buffer)
            if size is None:
                return requests  # need more bytes to know the length
            if size == 0 or size > MAX_PDU + 3:
                self._skip()
                continue
            if len(self._buffer) < size:
                return requests
            frame = bytes(self._buffer[:size])
            if crc16(frame[:-2]) != struct.unpack("<H", frame[-2:])[0]:
                self._skip()
                continue
            del self._buffer[:size]
            requests.append(Request(unit=frame[0], pdu=frame[1:-2]))
        return requests

    def _skip(self) -> None:
        del self._buffer[0]
        self.dropped += 1


def _rtu_request_size(buffer: bytearray) -> int | None:
    """The whole ADU size of the request at the buffer's start; None: not known yet;
    0: not a request we can frame (an unknown function: its length cannot be known)."""
    function = buffer[1]
    if function in _FIXED_REQUEST_PDU:
        return 1 + _FIXED_REQUEST_PDU[function] + 2
    if function in _COUNTED_REQUEST:
        if len(buffer) < 7:
            return None
        return 1 + 6 + buffer[6] + 2
    # An unknown function: its length cannot be known, so it is framed only when the whole
    # buffer is one frame with a good CRC; anything else is taken for garbage.
    if crc16(bytes(buffer[:-2])) == struct.unpack("<H", bytes(buffer[-2:]))[0]:
        return len(buffer)
    return 0


class TcpDeframer:
    """Cuts a Modbus TCP byte stream into requests by the MBAP length. A header with a
    protocol id other than 0 or an impossible length means the stream is lost: the buffer is
    dropped (`lost` counts it) and framing resumes with the next chunk."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.lost = 0

    def feed(self, data: bytes) -> list[Request]:
        self._buffer += data
        requests: list[Request] = []
        while len(self._buffer) >= 7:
            transaction, protocol, length, unit = struct.unpack(">HHHB", self._buffer[:7])
            if protocol != 0 or not 2 <= length <= MAX_PDU + 1:
                self._buffer.clear()
                self.lost += 1
                return requests
            if len(self._buffer) < 6 + length:
                return requests
            pdu = bytes(self._buffer[7 : 6 + length])
            del self._buffer[: 6 + length]
            requests.append(Request(unit=unit, pdu=pdu, transaction=transaction))
        return requests


# ---- PDUs ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadRequest:
    function: Function
    address: int
    count: int


@dataclass(frozen=True, slots=True)
class WriteCoils:
    address: int
    values: tuple[bool, ...]
    single: bool


_READ_LIMITS = {
    Function.READ_COILS: 2000,
    Function.READ_DISCRETE_INPUTS: 2000,
    Function.READ_INPUT_REGISTERS: 125,
}


def parse_pdu(pdu: bytes) -> ReadRequest | WriteCoils:
    """The request a PDU carries; ModbusException for what a controller must refuse."""
    try:
        function = Function(pdu[0])
    except ValueError:
        raise ModbusException(
            ExceptionCode.ILLEGAL_FUNCTION, f"function 0x{pdu[0]:02X} not served"
        ) from None
    if function in _READ_LIMITS:
        if len(pdu) != 5:
            raise ModbusException(ExceptionCode.ILLEGAL_DATA_VALUE, "bad read request length")
        address, count = struct.unpack(">HH", pdu[1:5])
        if not 1 <= count <= _READ_LIMITS[function]:
            raise ModbusException(ExceptionCode.ILLEGAL_DATA_VALUE, f"quantity {count}")
        return ReadRequest(function, address, count)
    if function is Function.WRITE_SINGLE_COIL:
        if len(pdu) != 5:
            raise ModbusException(ExceptionCode.ILLEGAL_DATA_VALUE, "bad write request length")
        address, value = struct.unpack(">HH", pdu[1:5])
        if value not in (0xFF00, 0x0000):
            raise ModbusException(ExceptionCode.ILLEGAL_DATA_VALUE, f"coil value 0x{value:04X}")
        return WriteCoils(address, (value == 0xFF00,), single=True)
    # WRITE_MULTIPLE_COILS
    if len(pdu) < 6:
        raise ModbusException(ExceptionCode.ILLEGAL_DATA_VALUE, "bad write request length")
    address, count, byte_count = struct.unpack(">HHB", pdu[1:6])
    if not 1 <= count <= 1968 or byte_count != (count + 7) // 8 or len(pdu) != 6 + byte_count:
        raise ModbusException(ExceptionCode.ILLEGAL_DATA_VALUE, f"quantity {count}")
    return WriteCoils(address, unpack_bits(pdu[6:], count), single=False)


def pack_bits(bits: Sequence[bool]) -> bytes:
    """Bits packed eight to a byte, the first bit in the least significant position."""
    out = bytearray((len(bits) + 7) // 8)
    for index, bit in enumerate(bits):
        if bit:
            out[index // 8] |= 1 << (index % 8)
    return bytes(out)


def unpack_bits(data: bytes, count: int) -> tuple[bool, ...]:
    return tuple(bool(data[i // 8] >> (i % 8) & 1) for i in range(count))


def bits_reply(function: Function, bits: Sequence[bool]) -> bytes:
    packed = pack_bits(bits)
    return bytes([function, len(packed)]) + packed


def registers_reply(values: Sequence[int]) -> bytes:
    body = b"".join(struct.pack(">H", value & 0xFFFF) for value in values)
    return bytes([Function.READ_INPUT_REGISTERS, len(body)]) + body


def write_single_reply(address: int, value: bool) -> bytes:
    return struct.pack(">BHH", Function.WRITE_SINGLE_COIL, address, 0xFF00 if value else 0)


def write_multiple_reply(address: int, count: int) -> bytes:
    return struct.pack(">BHH", Function.WRITE_MULTIPLE_COILS, address, count)


def exception_reply(function: int, code: ExceptionCode) -> bytes:
    """The function code with its high bit set, then the exception code."""
    return bytes([(function | 0x80) & 0xFF, code])
