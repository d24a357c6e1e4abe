"""The modbus adapter's rig: an emulated Modbus lock controller on a TCP socket, either framing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from locker_emulator.boards import LockBank, TcpBus
from locker_emulator.boards.modbus import Framing, ModbusController, ModbusQuirk

from adapters.modbus import ModbusAdapter, ModbusConfig
from gateway.sdk import AdapterFeatures, AdapterHost, LockerAdapter

# Fast enough for tests, slow enough for two CPUs shared by many test runs.
FAST: dict[str, Any] = {
    "poll_interval_s": 0.05,
    "timeout_s": 0.4,
    "offline_after": 2,
    "confirm_s": 0.6,
}


class Recorder:
    """A BusProtocol in front of the controller that keeps every chunk of bytes it receives."""

    def __init__(self, controller: ModbusController) -> None:
        self.controller = controller
        self.received: list[bytes] = []

    def feed(self, data: bytes) -> Sequence[bytes]:
        self.received.append(data)
        return self.controller.feed(data)


class ModbusRig:
    """`async with ModbusRig(framing=Framing.RTU) as rig:` — the hardware behind one adapter."""

    locker_id = "CONF-MB-01"
    compartments = ("A01", "A02", "A03")
    # The emulated controller has every feature the adapter declares.
    features: AdapterFeatures = ModbusAdapter.features

    def __init__(
        self,
        *,
        framing: Framing = Framing.TCP,
        unit: int = 7,
        locks: int = 4,
        quirk: ModbusQuirk | None = None,
    ) -> None:
        self.framing = framing
        self.unit = unit
        self.bank = LockBank(boards=[unit], locks_per_board=locks)
        self.controller = ModbusController(bank=self.bank, framing=framing, quirk=quirk)
        self.line = Recorder(self.controller)
        self.bus = TcpBus(handler=self.line, name=f"modbus-{framing}")
        # Compartment A01 is lock 1, A02 lock 2...: the coil, door and item bit of that lock.
        self.locks = {code: index for index, code in enumerate(self.compartments, start=1)}

    async def __aenter__(self) -> Self:
        await self.bus.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.bus.__aexit__(exc_type, exc, tb)

    @property
    def url(self) -> str:
        """Modbus TCP is tcp://; RTU over the serial-over-TCP server is pyserial's socket://."""
        if self.framing is Framing.TCP:
            return f"tcp://127.0.0.1:{self.bus.port}"
        return self.bus.url

    def config(self, **overrides: Any) -> ModbusConfig:
        locker = {
            "url": self.url,
            "unit": self.unit,
            "compartments": {
                code: {"lock": lock, "size_class": "M"} for code, lock in self.locks.items()
            },
        }
        return ModbusConfig.model_validate(
            {"lockers": {self.locker_id: locker}, **FAST, **overrides}
        )

    # ---- AdapterRig ----------------------------------------------------------------------

    def make_adapter(self, host: AdapterHost, **overrides: Any) -> LockerAdapter:
        return ModbusAdapter(config=self.config(**overrides), host=host)

    async def wait_ready(self, adapter: LockerAdapter) -> None:
        while True:
            status = await adapter.read_status(self.locker_id)
            if status.online and status.booted:
                return
            await asyncio.sleep(0.02)

    async def close_door(self, code: str, *, item_inside: bool) -> None:
        self.bank.close(self.unit, self.locks[code], item_inside=item_inside)

    async def jam(self, code: str) -> None:
        self.bank.set_stuck(self.unit, self.locks[code])

    async def disconnect(self) -> None:
        await self.bus.power_off()

    async def reconnect(self) -> None:
        await self.bus.power_on()

    async def lose_next_reply(self) -> None:
        # The controller loses the reply to the next write (the unlock), not a poll's reply.
        self.controller.lose_write_replies += 1

    def unlock_count(self, code: str) -> int:
        return self.bank.releases(self.unit, self.locks[code])

    def door_open(self, code: str) -> bool:
        return not self.bank.door_closed(self.unit, self.locks[code])
