"""A serial bus for adapters: one request at a time, timeouts, resync, safe retries, reconnects.

Any pyserial URL works: `/dev/ttyUSB0` (RS-485 adapter), `socket://host:port` (serial device
server, raw TCP), `rfc2217://host:port` (device server with RFC 2217 control). The port is
driven with pyserial's blocking API on one worker thread per bus rather than with asyncio
streams: only the blocking API covers all three kinds of URL with one code path, and a single
thread per bus also keeps the port object out of concurrent hands. Reads run in short slices,
so a cancelled or timed-out request never leaves a read blocked for long.

The protocol supplies the framing (`ReplyReader`): it drops bytes that cannot start a valid
reply and verifies checksums, so noise or a broken frame resynchronises instead of failing
the bus. Only requests the caller marks `safe_to_retry` (reads) are ever sent twice: an unlock
whose reply is lost must be resolved by the adapter with a safe read, never by resending it.

A reply that comes after its request timed out would be taken for the next request's reply if
it arrived after that request went out (flushing the input before sending only catches replies
that came before). For reads that costs a stale reading at worst; for an unlock it would report
the state from before the pulse. So after a timeout the next unsafe request first spends half
of its own timeout dropping whatever late bytes come in, and waits for its reply for the rest:
an exchange never takes longer than its timeout, so an adapter that passes the time left before
its deadline never sends after the deadline.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self, TypeVar

import serial

from gateway.domain.backoff import backoff_s
from gateway.sdk.errors import AdapterConfigError, AdapterConnectionError, AdapterTimeout

__all__ = ["ReplyReader", "SerialBus", "SerialSettings"]

log = logging.getLogger(__name__)
T = TypeVar("T")

ReplyReader = Callable[[bytearray], bytes | None]
"""Framing of one protocol: given the bytes received so far, delete from the front whatever
cannot begin a valid reply, and remove and return one complete, checked reply; None while
more bytes are needed."""

# How long one blocking read may hold the bus's thread before the event loop looks again.
_READ_SLICE_S = 0.02
_PARITIES = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


@dataclass(frozen=True, slots=True, kw_only=True)
class SerialSettings:
    """Line settings; ignored by socket:// (the device server has its own), used otherwise."""

    baudrate: int = 19200
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    # Back-off before reconnecting a dead link: doubles from `reconnect_min_s` to the max, and
    # starts again from the minimum only once a valid reply came.
    reconnect_min_s: float = 0.2
    reconnect_max_s: float = 5.0
    write_timeout_s: float = 2.0

    def __post_init__(self) -> None:
        if self.reconnect_min_s <= 0 or self.reconnect_max_s <= 0:
            raise AdapterConfigError(
                "reconnect_min_s and reconnect_max_s must be positive, not "
                f"{self.reconnect_min_s} and {self.reconnect_max_s}"
            )


class SerialBus:
    """`async with SerialBus(url=...) as bus:` then `await bus.exchange(frame, ...)`."""

    def __init__(self, *, url: str, settings: SerialSettings | None = None) -> None:
        self.url = url
        self.settings = settings or SerialSettings()
        if self.settings.parity not in _PARITIES:
            raise AdapterConfigError(f"parity must be one of N, E, O, not {self.settings.parity!r}")
        # pyserial's RFC 2217 client refuses a write timeout (the server paces writes).
        write_timeout = None if url.startswith("rfc2217://") else self.settings.write_timeout_s
        self._port_options: dict[str, Any] = {
            "baudrate": self.settings.baudrate,
            "bytesize": self.settings.bytesize,
            "parity": _PARITIES[self.settings.parity],
            "stopbits": self.settings.stopbits,
            "timeout": _READ_SLICE_S,
            "write_timeout": write_timeout,
        }
        try:
            self._port = self._new_port()
        except (ValueError, serial.SerialException) as err:
            raise AdapterConfigError(f"serial bus {url!r}: {err}") from err
        self._lock = asyncio.Lock()
        self._executor: ThreadPoolExecutor | None = None
        # Ours, not the port's is_open: a failed port is closed later, on the bus's thread.
        self._open = False
        self._failures = 0
        self._retry_at = 0.0
        # Set when a request timed out: a reply to it may still be on its way.
        self._late_reply_possible = False
        self.requests = 0
        self.timeouts = 0
        self.reconnects = 0

    # ---- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serial-bus")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        executor, self._executor = self._executor, None
        self._open = False
        if executor is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(executor, self._close_port)
            finally:
                # Even when cancelled: the thread ends once the close it runs returns.
                executor.shutdown(wait=False)

    @property
    def connected(self) -> bool:
        """Whether the link is up (it opens on first use and after a failure, on next use)."""
        return self._open

    # ---- the one operation ---------------------------------------------------------------

    async def exchange(
        self,
        frame: bytes,
        *,
        read_reply: ReplyReader,
        timeout_s: float,
        safe_to_retry: bool = False,
        retries: int = 0,
    ) -> bytes:
        """Send `frame`, return the reply `read_reply` recognises.

        Raises AdapterTimeout when no valid reply came within `timeout_s` (per attempt), and
        AdapterConnectionError when the link is down (then reconnects, with back-off, on a
        later call). `retries` applies only when `safe_to_retry`.
        """
        if timeout_s <= 0:
            raise AdapterTimeout(f"{self.url}: no time left for the request")
        attempts = 1 + (max(0, retries) if safe_to_retry else 0)
        async with self._lock:
            for attempt in range(1, attempts + 1):
                await self._ensure_open()
                reply_s = timeout_s
                if not safe_to_retry and self._late_reply_possible:
                    reply_s -= await self._drain(within_s=timeout_s / 2)
                self.requests += 1
                await self._run(self._send, frame)
                reply = await self._read(read_reply, reply_s)
                if reply is not None:
                    self._failures = 0
                    return reply
                self.timeouts += 1
                self._late_reply_possible = True
                if attempt < attempts:
                    log.info("%s: no reply to %s, retrying (safe)", self.url, frame.hex(" "))
        raise AdapterTimeout(f"{self.url}: no valid reply within {timeout_s:g} s")

    # ---- internals -----------------------------------------------------------------------

    async def _ensure_open(self) -> None:
        if self._open:
            return
        wait = self._retry_at - time.monotonic()
        if wait > 0:
            raise AdapterConnectionError(
                f"serial bus {self.url} is down; next reconnect attempt in {wait:.1f} s"
            )
        try:
            await self._run(self._reopen)
        except (ValueError, NotImplementedError) as err:
            # pyserial checks some settings only when opening: a configuration error.
            self._link_failed(err)
            raise AdapterConfigError(f"serial bus {self.url}: {err}") from err
        self._open = True
        if self._failures:
            self.reconnects += 1
            log.info("serial bus %s reconnected", self.url)
        # The back-off is reset by the first valid reply, not here: a device server that
        # accepts and then drops every connection must not be reconnected at the minimum pace.

    async def _read(self, read_reply: ReplyReader, timeout_s: float) -> bytes | None:
        buffer = bytearray()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            chunk = await self._run(self._receive)
            if chunk:
                buffer.extend(chunk)
                reply = read_reply(buffer)
                if reply is not None:
                    return reply
        if buffer:
            log.info("%s: unusable bytes before timeout: %s", self.url, bytes(buffer).hex(" "))
        return None

    async def _drain(self, *, within_s: float) -> float:
        """Drop whatever comes in for `within_s`; returns the seconds spent."""
        start = time.monotonic()
        dropped = bytearray()
        while time.monotonic() < start + within_s:
            dropped.extend(await self._run(self._receive))
        if dropped:
            log.info(
                "%s: dropped late bytes before an unsafe request: %s", self.url, dropped.hex(" ")
            )
        self._late_reply_possible = False
        return time.monotonic() - start

    async def _run(self, call: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            raise AdapterConnectionError(f"serial bus {self.url} is not started")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, call, *args)
        except (serial.SerialException, OSError) as err:
            self._link_failed(err)
            raise AdapterConnectionError(f"serial bus {self.url}: {err}") from err

    def _link_failed(self, err: BaseException) -> None:
        self._open = False
        self._failures += 1
        # The one back-off formula, without jitter: a bus has one client (this one), so there
        # is no crowd to spread out, and the wait is what the next call's error message says.
        backoff = backoff_s(
            self._failures,
            base_s=min(self.settings.reconnect_min_s, self.settings.reconnect_max_s),
            cap_s=self.settings.reconnect_max_s,
            rand=None,
        )
        self._retry_at = time.monotonic() + backoff
        log.warning("serial bus %s failed (%s); reconnecting in %.1f s", self.url, err, backoff)

    # These run on the bus's thread.

    def _send(self, frame: bytes) -> None:
        # Whatever is still waiting is a late reply to an earlier request or noise: drop it.
        self._port.reset_input_buffer()
        self._port.write(frame)
        self._port.flush()

    def _receive(self) -> bytes:
        data = bytearray(self._port.read(1))
        while data and (waiting := self._port.in_waiting):
            data.extend(self._port.read(waiting))
        return bytes(data)

    def _new_port(self) -> serial.Serial:
        port: serial.Serial = serial.serial_for_url(
            self.url, do_not_open=True, **self._port_options
        )
        return port

    def _reopen(self) -> None:
        # A fresh port object each time: a closed pyserial port keeps state (io's closed flag)
        # that some URL handlers trip over when opened again.
        self._close_port()
        self._port = self._new_port()
        self._port.open()

    def _close_port(self) -> None:
        if not self._port.is_open:
            return
        try:
            self._port.close()
        except (serial.SerialException, OSError) as err:
            log.debug("closing %s: %s", self.url, err)
