"""One RS-485 bus served over TCP, as a serial device server does, with bus faults to inject.

Every byte a client sends goes to the bus's protocol handler, which does its own framing and
resynchronisation (`feed(data) -> replies`): it sees the raw stream, as a board on a real bus
would. Replies go back to the client that sent the request, after the bus faults took their
share. Connect with pyserial's `socket://HOST:PORT`.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from types import TracebackType
from typing import Any, Protocol, Self

log = logging.getLogger("locker_emulator.boards.bus")


class BusProtocol(Protocol):
    """The boards on a bus: eat raw bytes, return the complete reply frames they caused."""

    def feed(self, data: bytes) -> Sequence[bytes]: ...


class BusFaultError(ValueError):
    """A bus fault setting that does not exist or has a value of the wrong type."""


@dataclass(frozen=True, slots=True)
class BusFaults:
    """What the bus does to replies; each field is JSON-settable through `update`."""

    # Sent just before each of the next `garbage_replies` replies (line noise, a chatty device).
    garbage: bytes = b"\xff\x00\x5a"
    garbage_replies: int = 0
    # The next N replies are swallowed: the boards act on the request, the answer never arrives.
    drop_replies: int = 0
    # A slow bus: seconds before each reply starts, and seconds per reply byte.
    reply_delay: float = 0.0
    byte_delay: float = 0.0
    # False: the boards are powered off; clients are cut off and connections refused.
    powered: bool = True


BUS_FAULTS = tuple(f.name for f in fields(BusFaults))


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BusFaultError(f"{name} must be a number of seconds, not {value!r}")
    if value < 0:
        raise BusFaultError(f"{name} must not be negative, not {value!r}")
    return float(value)


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BusFaultError(f"{name} must be a whole number >= 0, not {value!r}")
    return value


def update_bus_faults(current: BusFaults, changes: Mapping[str, object]) -> BusFaults:
    """Apply JSON changes; `garbage` is given as hex ("ff005a")."""
    unknown = sorted(set(changes) - set(BUS_FAULTS))
    if unknown:
        raise BusFaultError(
            f"unknown bus fault(s) {', '.join(unknown)}; known: {', '.join(BUS_FAULTS)}"
        )
    faults = current
    if "garbage" in changes:
        raw = changes["garbage"]
        try:
            data = bytes.fromhex(raw) if isinstance(raw, str) else None
        except ValueError:
            data = None
        if not data:
            raise BusFaultError(f"garbage must be non-empty hex bytes like 'ff005a', not {raw!r}")
        faults = replace(faults, garbage=data)
    if "garbage_replies" in changes:
        faults = replace(
            faults, garbage_replies=_count("garbage_replies", changes["garbage_replies"])
        )
    if "drop_replies" in changes:
        faults = replace(faults, drop_replies=_count("drop_replies", changes["drop_replies"]))
    if "reply_delay" in changes:
        faults = replace(faults, reply_delay=_seconds("reply_delay", changes["reply_delay"]))
    if "byte_delay" in changes:
        faults = replace(faults, byte_delay=_seconds("byte_delay", changes["byte_delay"]))
    if "powered" in changes:
        if not isinstance(changes["powered"], bool):
            raise BusFaultError(f"powered must be true or false, not {changes['powered']!r}")
        faults = replace(faults, powered=changes["powered"])
    return faults


def bus_faults_json(faults: BusFaults) -> dict[str, Any]:
    """The bus's fault settings as JSON."""
    values: dict[str, Any] = {name: getattr(faults, name) for name in BUS_FAULTS}
    values["garbage"] = faults.garbage.hex()
    return values


class TcpBus:
    """`async with TcpBus(handler=boards) as bus:` serves the bus on `bus.port` (`bus.url`)."""

    def __init__(
        self, *, handler: BusProtocol, host: str = "127.0.0.1", port: int = 0, name: str = "bus"
    ) -> None:
        self._handler = handler
        self._host = host
        self._requested_port = port
        self.name = name
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        # The server's per-connection tasks, awaited on power-off so none outlives the bus.
        self._clients: set[asyncio.Task[None]] = set()
        # Half duplex: one request and its reply at a time, whichever client sent it.
        self._line = asyncio.Lock()
        self._faults = BusFaults()
        self.bytes_received = 0
        self.replies_sent = 0
        self.replies_dropped = 0
        self.connections = 0

    # ---- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._listen(self._requested_port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop_listening()

    @property
    def url(self) -> str:
        """The pyserial URL of this bus."""
        return f"socket://{self._host}:{self.port}"

    # ---- faults --------------------------------------------------------------------------

    @property
    def faults(self) -> BusFaults:
        return self._faults

    @property
    def powered(self) -> bool:
        return self._faults.powered

    def inject_garbage(self, data: bytes = b"\xff\x00\x5a", *, replies: int = 1) -> None:
        """Send `data` before each of the next `replies` replies."""
        if not data:
            raise BusFaultError("garbage must be at least one byte")
        self._faults = replace(self._faults, garbage=data, garbage_replies=replies)

    def drop_next(self, count: int = 1) -> None:
        """Swallow the next `count` replies (the boards still act on the requests)."""
        self._faults = replace(self._faults, drop_replies=self._faults.drop_replies + count)

    def set_slow(self, *, reply_delay: float = 0.0, byte_delay: float = 0.0) -> None:
        """Delay each reply, and each reply byte; zeros make the bus fast again."""
        self._faults = replace(
            self._faults,
            reply_delay=_seconds("reply_delay", reply_delay),
            byte_delay=_seconds("byte_delay", byte_delay),
        )

    async def power_off(self) -> None:
        """Cut every client off abruptly and refuse new connections until `power_on`."""
        self._faults = replace(self._faults, powered=False)
        await self._stop_listening()

    async def power_on(self) -> None:
        """Listen again, on the same port."""
        self._faults = replace(self._faults, powered=True)
        if self._server is None:
            await self._listen(self.port)

    async def update_faults(self, changes: Mapping[str, object]) -> BusFaults:
        """Apply JSON changes (control API); switching `powered` cuts or restores the bus."""
        faults = update_bus_faults(self._faults, changes)
        powered = faults.powered
        self._faults = replace(faults, powered=self._faults.powered)
        if powered and not self._faults.powered:
            await self.power_on()
        elif not powered and self._faults.powered:
            await self.power_off()
        return self._faults

    # ---- serving -------------------------------------------------------------------------

    async def _listen(self, port: int) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("%s: serving on %s", self.name, self.url)

    async def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            # abort, not close: a pulled cable sends no FIN after pending data.
            writer.transport.abort()
        self._writers.clear()
        if self._clients:
            await asyncio.wait(set(self._clients), timeout=5.0)
        if server is not None:
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._faults.powered:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            while data := await reader.read(4096):
                async with self._line:
                    self.bytes_received += len(data)
                    log.debug("%s <- %s", self.name, data.hex(" "))
                    try:
                        replies = self._handler.feed(data)
                    except Exception:
                        # A board bug must not take the bus down: stay silent, as a board would.
                        log.exception("%s: the boards failed on %s", self.name, data.hex(" "))
                        continue
                    for reply in replies:
                        await self._send(writer, reply)
        except (ConnectionError, OSError):
            pass  # the client went away or the bus was powered off
        finally:
            self._writers.discard(writer)
            if task is not None:
                self._clients.discard(task)
            writer.transport.abort()

    async def _send(self, writer: asyncio.StreamWriter, reply: bytes) -> None:
        faults = self._faults
        if faults.drop_replies > 0:
            self._faults = replace(faults, drop_replies=faults.drop_replies - 1)
            self.replies_dropped += 1
            log.debug("%s: dropped reply %s", self.name, reply.hex(" "))
            return
        if faults.reply_delay:
            await asyncio.sleep(faults.reply_delay)
        out = reply
        if faults.garbage_replies > 0:
            self._faults = replace(self._faults, garbage_replies=faults.garbage_replies - 1)
            out = faults.garbage + reply
        if not self._faults.powered or writer.transport.is_closing():
            return
        log.debug("%s -> %s", self.name, out.hex(" "))
        if faults.byte_delay:
            for index in range(len(out)):
                writer.write(out[index : index + 1])
                await writer.drain()
                await asyncio.sleep(faults.byte_delay)
        else:
            writer.write(out)
            await writer.drain()
        self.replies_sent += 1
