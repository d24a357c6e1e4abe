"""One Modbus bus (a TCP device, or a serial line shared by several controllers) via pymodbus.

Every foreign exception stops here: callers see only SDK errors. The client is made with
retries disabled, so no request is ever sent twice by the library: reads are repeated by the
adapter's own polling, and an unlock must never be repeated at all.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from adapters.modbus.config import Framing, ModbusLocker
from gateway.sdk import (
    AdapterConfigError,
    AdapterConnectionError,
    AdapterError,
    AdapterProtocolError,
    AdapterTimeout,
    LockerNotConnected,
)

READ_DISCRETE_INPUTS = 0x02
READ_INPUT_REGISTERS = 0x04
WRITE_SINGLE_COIL = 0x05

# Exception codes of the Modbus Application Protocol, with the SDK error each one means.
EXCEPTIONS: dict[int, tuple[str, type[AdapterError]]] = {
    0x01: ("IllegalFunction", AdapterProtocolError),
    0x02: ("IllegalDataAddress", AdapterProtocolError),
    0x03: ("IllegalDataValue", AdapterProtocolError),
    0x04: ("ServerDeviceFailure", AdapterError),
    0x05: ("Acknowledge", AdapterError),
    0x06: ("ServerDeviceBusy", AdapterError),
    0x08: ("MemoryParityError", AdapterError),
    0x0A: ("GatewayPathUnavailable", AdapterConnectionError),
    0x0B: ("GatewayTargetFailedToRespond", LockerNotConnected),
}

# Exceptions a Modbus gateway answers for a controller that it cannot reach.
UNREACHABLE_EXCEPTIONS = frozenset({0x0A, 0x0B})


class NoReply(AdapterTimeout):
    """The request went out and no (usable) reply came back: its effect is unknown."""


class LinkClosed(AdapterConnectionError):
    """The adapter is stopping: nothing more goes out on this bus."""


Client = AsyncModbusTcpClient | AsyncModbusSerialClient


class ModbusLink:
    """`async with ModbusLink(locker=..., timeout_s=...)`: requests to the units on one bus."""

    def __init__(self, *, locker: ModbusLocker, timeout_s: float) -> None:
        self.url = locker.url
        self._locker = locker
        self._timeout_s = timeout_s
        self._connecting = asyncio.Lock()
        self._client: Client | None = None
        self._closed = False
        # Requests that got no usable reply, by why (a spoilt line is counted, not only logged):
        # no-reply (nothing, or nothing pymodbus could frame: bad CRC, noise, cut short),
        # out-of-step (a reply to another function), exception (the controller's refusal),
        # short (fewer inputs or registers than asked for).
        self.failures: Counter[str] = Counter()

    async def __aenter__(self) -> Self:
        # Made here, not in __init__: pymodbus clients need the running event loop.
        self._client = _client(self._locker, self._timeout_s)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close for good: requests still pending or coming fail with LinkClosed."""
        self._closed = True
        if self._client is not None:
            self._client.close()

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    def _open_client(self) -> Client:
        if self._closed or self._client is None:
            raise LinkClosed(f"the link to {self.url} is closed (the adapter is stopping)")
        return self._client

    async def connect(self) -> None:
        """Open the bus if it is not open; AdapterConnectionError if it cannot be."""
        async with self._connecting:
            client = self._open_client()
            if client.connected:
                return
            try:
                ok = await client.connect()
            except (ModbusException, OSError) as err:
                raise AdapterConnectionError(f"cannot open {self.url}: {err}") from err
            except ValueError as err:  # pyserial refuses the URL itself
                raise AdapterConfigError(f"cannot open {self.url}: {err}") from err
            if not ok:
                raise AdapterConnectionError(f"cannot open {self.url}")

    def disconnect(self) -> None:
        """Drop the connection (after a reply that left the stream out of step)."""
        if self._client is not None:
            self._client.close()

    # ---- requests ------------------------------------------------------------------------

    async def read_inputs(self, unit: int, address: int, count: int) -> list[bool]:
        reply = await self._request(
            READ_DISCRETE_INPUTS,
            unit,
            lambda c: c.read_discrete_inputs(address, count=count, device_id=unit),
        )
        # pymodbus pads the bits to whole bytes but takes the byte count as sent: a reply
        # shorter than asked for must be refused here, not fail as an IndexError in a caller
        # (found by tests/fuzz/serial).
        if len(reply.bits) < count:
            self.failures["short"] += 1
            raise AdapterProtocolError(
                f"unit {unit} sent {len(reply.bits)} inputs for {count}",
                details={"unit": unit, "function": READ_DISCRETE_INPUTS},
            )
        return list(reply.bits[:count])

    async def read_registers(self, unit: int, address: int, count: int) -> list[int]:
        reply = await self._request(
            READ_INPUT_REGISTERS,
            unit,
            lambda c: c.read_input_registers(address, count=count, device_id=unit),
        )
        if len(reply.registers) != count:
            self.failures["short"] += 1
            raise AdapterProtocolError(
                f"unit {unit} sent {len(reply.registers)} registers for {count}"
            )
        return list(reply.registers)

    async def write_coil(self, unit: int, address: int) -> bool:
        """Write 1 to one coil, exactly once; returns the value the controller echoed."""
        reply = await self._request(
            WRITE_SINGLE_COIL,
            unit,
            lambda c: c.write_coil(address, True, device_id=unit),
        )
        if reply.address != address:
            raise AdapterProtocolError(
                f"unit {unit} echoed coil {reply.address} for coil {address}",
                details={"unit": unit, "function": WRITE_SINGLE_COIL},
            )
        return bool(reply.bits and reply.bits[0])

    async def _request(
        self, function: int, unit: int, send: Callable[[Client], Awaitable[ModbusPDU]]
    ) -> ModbusPDU:
        client = self._open_client()
        if not client.connected:
            await self.connect()
        try:
            # The outer bound only guards against a library that forgets its own timeout.
            async with asyncio.timeout(self._timeout_s + 1.0):
                reply = await send(client)
        except TimeoutError as err:
            self.failures["no-reply"] += 1
            raise NoReply(f"{self.url} unit {unit}: no reply to function {function:02X}") from err
        except ModbusException as err:
            if self._closed:
                raise LinkClosed(f"{self.url}: closed while waiting for a reply") from err
            self.failures["no-reply"] += 1
            # pymodbus raises ModbusIOException for "no response" and ConnectionException for
            # a closed transport; either way the request's effect is unknown.
            raise NoReply(f"{self.url} unit {unit}: no reply ({err})") from err
        except OSError as err:
            raise AdapterConnectionError(f"{self.url}: {err}") from err
        if reply.function_code & 0x7F != function:
            # A late reply to an earlier request, matched to this one: the stream is out of
            # step, so start over with a fresh connection.
            self.failures["out-of-step"] += 1
            self.disconnect()
            raise NoReply(
                f"{self.url} unit {unit}: reply to function {reply.function_code:02X} "
                f"for a request of function {function:02X}"
            )
        if isinstance(reply, ExceptionResponse):
            self.failures["exception"] += 1
            raise refusal(unit, function, reply.exception_code)
        return reply


def _client(locker: ModbusLocker, timeout_s: float) -> Client:
    # retries=0: pymodbus never sends a request twice. reconnect_delay=0: it does not
    # reconnect on its own either; the adapter's poll does, at its pace, and reports offline.
    if locker.framing is Framing.TCP:
        parts = urlsplit(locker.url)
        return AsyncModbusTcpClient(
            parts.hostname or "",
            port=parts.port or 502,
            framer=FramerType.SOCKET,
            timeout=timeout_s,
            retries=0,
            reconnect_delay=0,
        )
    return AsyncModbusSerialClient(
        locker.url,
        framer=FramerType.RTU,
        baudrate=locker.baudrate,
        bytesize=locker.bytesize,
        parity=locker.parity,
        stopbits=locker.stopbits,
        timeout=timeout_s,
        retries=0,
        reconnect_delay=0,
    )


def refusal(unit: int, function: int, code: int) -> AdapterError:
    """The SDK error for a Modbus exception response, with the exception code in details."""
    name, kind = EXCEPTIONS.get(code, (f"Exception{code:02X}", AdapterProtocolError))
    return kind(
        f"unit {unit} refused function {function:02X}: exception {code:02X} {name}",
        details={"unit": unit, "function": function, "modbusException": code, "name": name},
    )
