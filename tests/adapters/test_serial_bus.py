"""SerialBus over a real TCP serial bus (the emulator's TcpBus) with a tiny test protocol.

The protocol: request `AA n S`, reply `BB n k S`, where n is the request's number, k how many
requests the device has answered, S the sum of the bytes before it. It knows nothing of
Kerong, as the bus must not either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import pytest
import serial
import serial.rfc2217
from locker_emulator.boards import TcpBus

from gateway.sdk import AdapterConfigError, AdapterConnectionError, AdapterTimeout
from gateway.sdk.serial import SerialBus, SerialSettings

REQUEST, REPLY = 0xAA, 0xBB


class Device:
    """The bus's one device; `corrupt_next` sends a reply with a bad sum before the good one."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.requests: list[int] = []
        self.corrupt_next = 0
        self.only_corrupt = False

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer.extend(data)
        replies: list[bytes] = []
        while len(self.buffer) >= 3:
            if self.buffer[0] != REQUEST or self.buffer[2] != (REQUEST + self.buffer[1]) & 0xFF:
                del self.buffer[:1]
                continue
            number = self.buffer[1]
            del self.buffer[:3]
            self.requests.append(number)
            body = bytes([REPLY, number, len(self.requests)])
            good = body + bytes([sum(body) & 0xFF])
            if self.corrupt_next or self.only_corrupt:
                self.corrupt_next = max(0, self.corrupt_next - 1)
                bad = body + bytes([(sum(body) + 1) & 0xFF])
                replies.append(bad if self.only_corrupt else bad + good)
            else:
                replies.append(good)
        return replies


def request(number: int) -> bytes:
    return bytes([REQUEST, number, (REQUEST + number) & 0xFF])


def read_reply(buffer: bytearray) -> bytes | None:
    """The test protocol's framing: skip to a REPLY byte, check the sum, else resync."""
    while True:
        start = buffer.find(REPLY)
        if start < 0:
            buffer.clear()
            return None
        del buffer[:start]
        if len(buffer) < 4:
            return None
        frame = bytes(buffer[:4])
        if frame[3] != sum(frame[:3]) & 0xFF:
            del buffer[:1]
            continue
        del buffer[:4]
        return frame


@pytest.fixture
def device() -> Device:
    return Device()


@pytest.fixture
async def tcp(device: Device) -> AsyncIterator[TcpBus]:
    async with TcpBus(handler=device, name="test-bus") as bus:
        yield bus


@pytest.fixture
async def bus(tcp: TcpBus) -> AsyncIterator[SerialBus]:
    settings = SerialSettings(reconnect_min_s=0.05, reconnect_max_s=0.2)
    async with SerialBus(url=tcp.url, settings=settings) as serial_bus:
        yield serial_bus


async def test_one_exchange(bus: SerialBus, device: Device) -> None:
    reply = await bus.exchange(request(7), read_reply=read_reply, timeout_s=1.0)
    assert reply[:3] == bytes([REPLY, 7, 1])
    assert device.requests == [7]
    assert bus.connected


async def test_garbage_before_the_reply_is_skipped(
    bus: SerialBus, tcp: TcpBus, device: Device
) -> None:
    tcp.inject_garbage(b"\x00\xbb\x13\xff", replies=2)  # includes a false REPLY byte
    for number in (1, 2):
        reply = await bus.exchange(request(number), read_reply=read_reply, timeout_s=1.0)
        assert reply[1] == number
    assert tcp.faults.garbage_replies == 0, "the garbage really went out"


async def test_a_frame_split_across_reads(bus: SerialBus, tcp: TcpBus) -> None:
    tcp.set_slow(byte_delay=0.03)
    reply = await bus.exchange(request(3), read_reply=read_reply, timeout_s=1.0)
    assert reply[1] == 3


async def test_a_broken_frame_then_a_good_one(bus: SerialBus, device: Device) -> None:
    device.corrupt_next = 1
    reply = await bus.exchange(request(4), read_reply=read_reply, timeout_s=1.0)
    assert reply[:3] == bytes([REPLY, 4, 1])


async def test_only_broken_frames_time_out(bus: SerialBus, device: Device) -> None:
    device.only_corrupt = True
    with pytest.raises(AdapterTimeout):
        await bus.exchange(request(5), read_reply=read_reply, timeout_s=0.2)


async def test_timeout_without_retry_for_unsafe_requests(
    bus: SerialBus, tcp: TcpBus, device: Device
) -> None:
    tcp.drop_next(5)
    with pytest.raises(AdapterTimeout):
        await bus.exchange(request(6), read_reply=read_reply, timeout_s=0.2, retries=3)
    assert device.requests == [6], "an unsafe request was sent more than once"


async def test_safe_requests_are_retried(bus: SerialBus, tcp: TcpBus, device: Device) -> None:
    tcp.drop_next(2)
    reply = await bus.exchange(
        request(8), read_reply=read_reply, timeout_s=0.2, safe_to_retry=True, retries=2
    )
    assert reply[1] == 8
    assert device.requests == [8, 8, 8]


async def test_safe_retries_are_bounded(bus: SerialBus, tcp: TcpBus, device: Device) -> None:
    tcp.drop_next(10)
    with pytest.raises(AdapterTimeout):
        await bus.exchange(
            request(9), read_reply=read_reply, timeout_s=0.1, safe_to_retry=True, retries=1
        )
    assert device.requests == [9, 9]


async def test_a_late_reply_is_not_taken_for_the_next_one(bus: SerialBus, tcp: TcpBus) -> None:
    tcp.set_slow(reply_delay=0.3)
    with pytest.raises(AdapterTimeout):
        await bus.exchange(request(1), read_reply=read_reply, timeout_s=0.1)
    await asyncio.sleep(0.4)  # the late reply to request 1 is now waiting in the socket
    tcp.set_slow()
    reply = await bus.exchange(request(2), read_reply=read_reply, timeout_s=1.0)
    assert reply[1] == 2, "the stale reply to request 1 was not flushed"


async def test_one_request_at_a_time(bus: SerialBus, tcp: TcpBus, device: Device) -> None:
    tcp.set_slow(reply_delay=0.05)
    replies = await asyncio.gather(
        *(bus.exchange(request(n), read_reply=read_reply, timeout_s=2.0) for n in range(1, 6))
    )
    assert [reply[1] for reply in replies] == [1, 2, 3, 4, 5]
    assert sorted(device.requests) == [1, 2, 3, 4, 5]


async def test_dead_link_then_reconnect_with_back_off(
    bus: SerialBus, tcp: TcpBus, device: Device
) -> None:
    await bus.exchange(request(1), read_reply=read_reply, timeout_s=1.0)
    await tcp.power_off()
    with pytest.raises(AdapterConnectionError):
        await bus.exchange(request(2), read_reply=read_reply, timeout_s=0.5)
    assert not bus.connected
    # Still off: reconnecting fails, also as a connection error (never a foreign exception).
    await asyncio.sleep(0.1)
    with pytest.raises(AdapterConnectionError):
        await bus.exchange(request(3), read_reply=read_reply, timeout_s=0.5)
    await tcp.power_on()
    async with asyncio.timeout(5):
        while True:
            try:
                reply = await bus.exchange(request(4), read_reply=read_reply, timeout_s=0.5)
                break
            except AdapterConnectionError:
                await asyncio.sleep(0.05)  # within the back-off: no attempt is made
    assert reply[1] == 4
    assert bus.reconnects == 1
    assert device.requests[-1] == 4


async def test_back_off_refuses_without_touching_the_link(tcp: TcpBus) -> None:
    settings = SerialSettings(reconnect_min_s=30.0, reconnect_max_s=30.0)
    async with SerialBus(url=tcp.url, settings=settings) as bus:
        await tcp.power_off()
        with pytest.raises(AdapterConnectionError):
            await bus.exchange(request(1), read_reply=read_reply, timeout_s=0.5)
        await tcp.power_on()
        before = tcp.connections
        with pytest.raises(AdapterConnectionError, match="next reconnect attempt"):
            await bus.exchange(request(2), read_reply=read_reply, timeout_s=0.5)
        assert tcp.connections == before


def test_a_bad_url_is_a_config_error() -> None:
    with pytest.raises(AdapterConfigError):
        SerialBus(url="nosuchscheme://host:1")


def test_a_bad_parity_is_a_config_error() -> None:
    with pytest.raises(AdapterConfigError):
        SerialBus(url="socket://127.0.0.1:1", settings=SerialSettings(parity="X"))


def test_a_back_off_that_is_not_positive_is_a_config_error() -> None:
    with pytest.raises(AdapterConfigError, match="positive"):
        SerialSettings(reconnect_min_s=0)
    with pytest.raises(AdapterConfigError, match="positive"):
        SerialSettings(reconnect_max_s=-1)


async def test_a_max_below_the_min_back_off_waits_the_max(
    tcp: TcpBus, caplog: pytest.LogCaptureFixture
) -> None:
    settings = SerialSettings(reconnect_min_s=0.3, reconnect_max_s=0.1)
    caplog.set_level(logging.WARNING, logger="gateway.sdk.serial")
    async with SerialBus(url=tcp.url, settings=settings) as bus:
        await tcp.power_off()
        with pytest.raises(AdapterConnectionError):
            await bus.exchange(request(1), read_reply=read_reply, timeout_s=0.5)
    assert "reconnecting in 0.1 s" in caplog.text


async def test_no_time_left_is_a_timeout(bus: SerialBus, device: Device) -> None:
    with pytest.raises(AdapterTimeout):
        await bus.exchange(request(1), read_reply=read_reply, timeout_s=0)
    assert device.requests == []


def echo_reader(buffer: bytearray) -> bytes | None:
    """Framing for a loopback: the reply is the request itself (3 bytes)."""
    if len(buffer) < 3:
        return None
    frame = bytes(buffer[:3])
    del buffer[:3]
    return frame


async def test_loop_url_uses_the_blocking_port_path() -> None:
    """pyserial's loop:// port: the code path of /dev/tty* ports (in_waiting, flush, reset)."""
    async with SerialBus(url="loop://") as bus:
        assert await bus.exchange(request(1), read_reply=echo_reader, timeout_s=1.0) == request(1)
        assert await bus.exchange(request(2), read_reply=echo_reader, timeout_s=1.0) == request(2)


class _SocketWriter:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)


@pytest.fixture
def rfc2217_server() -> Iterator[int]:
    """A real RFC 2217 server (pyserial's PortManager) in front of a loop:// port."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError):
            connection, _ = server.accept()
            port = serial.serial_for_url("loop://", timeout=0.05)
            # The stubs type both arguments too narrowly: any object with write() will do.
            manager = serial.rfc2217.PortManager(port, _SocketWriter(connection))  # type: ignore[arg-type]

            def to_client() -> None:
                with contextlib.suppress(OSError):
                    while not stop.is_set():
                        data = port.read(port.in_waiting or 1)
                        if data:
                            connection.sendall(b"".join(manager.escape(data)))

            threading.Thread(target=to_client, daemon=True).start()
            while data := connection.recv(1024):
                port.write(b"".join(manager.filter(data)))
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    thread.join(timeout=2)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:serial.rfc2217")  # pyserial's own threads
async def test_rfc2217_url(rfc2217_server: int) -> None:
    async with SerialBus(url=f"rfc2217://127.0.0.1:{rfc2217_server}") as bus:
        assert await bus.exchange(request(5), read_reply=echo_reader, timeout_s=2.0) == request(5)
        assert bus.connected


async def test_a_reply_arriving_late_is_not_taken_for_an_unsafe_request(
    bus: SerialBus, tcp: TcpBus, device: Device
) -> None:
    # The reply to request 1 comes only after request 2 (an unlock, say) has gone out; flushing
    # the input before sending cannot catch it. Taken for request 2's reply, it would report the
    # state from before the unlock.
    tcp.set_slow(reply_delay=0.3)
    with pytest.raises(AdapterTimeout):
        await bus.exchange(request(1), read_reply=read_reply, timeout_s=0.1)
    tcp.set_slow()
    reply = await bus.exchange(request(2), read_reply=read_reply, timeout_s=0.5)
    assert reply[1] == 2, "the late reply to request 1 was taken for the unlock's reply"
    assert device.requests == [1, 2]


async def test_a_bus_entered_again_after_exit_reopens_its_port(tcp: TcpBus) -> None:
    bus = SerialBus(url=tcp.url, settings=SerialSettings(reconnect_min_s=0.05))
    async with bus:
        assert (await bus.exchange(request(1), read_reply=read_reply, timeout_s=1.0))[1] == 1
    assert not bus.connected, "the port is closed, the bus must not say it is connected"
    async with bus:
        assert (await bus.exchange(request(2), read_reply=read_reply, timeout_s=1.0))[1] == 2
    assert bus.reconnects == 0, "a clean exit is not a link failure"


async def test_a_link_that_dies_right_after_connecting_backs_off_all_the_same(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A device server that accepts and hangs up at once (its serial side is dead, say). Each
    # reconnect "succeeds"; the back-off must keep growing until a reply comes, or the bus
    # reconnects at its minimum pace forever.
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = SerialSettings(reconnect_min_s=0.05, reconnect_max_s=0.2)
    caplog.set_level(logging.WARNING, logger="gateway.sdk.serial")
    async with server, SerialBus(url=f"socket://127.0.0.1:{port}", settings=settings) as bus:
        loop = asyncio.get_running_loop()
        until = loop.time() + 2.5
        while loop.time() < until:
            with contextlib.suppress(AdapterConnectionError, AdapterTimeout):
                await bus.exchange(request(1), read_reply=read_reply, timeout_s=0.1)
            await asyncio.sleep(0.01)
    back_offs = [
        float(r.getMessage().rsplit("reconnecting in ", 1)[1].split()[0])
        for r in caplog.records
        if "reconnecting in" in r.getMessage()
    ]
    assert len(back_offs) >= 4, back_offs
    assert back_offs[-1] == 0.2, f"the back-off never grew: {back_offs}"
