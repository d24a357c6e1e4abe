"""The OLP adapter's conformance rig: a private Mosquitto and one emulated OLP locker."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from types import TracebackType
from typing import Self

from locker_emulator import EmulatedLocker, EmulatorBank, Timing
from locker_emulator.layout import CompartmentConfig, LockerConfig

from adapters.olp import OlpAdapter, OlpConfig
from gateway.sdk import AdapterFeatures, AdapterHost, LockerAdapter
from tests.support.mosquitto import Mosquitto

# The locker retries Boot quickly, so an adapter that starts after it is ready within a second.
FAST = Timing(
    call_timeout=1.0,
    call_expiry=10.0,
    boot_retry_initial=0.05,
    boot_retry_max=0.3,
    reconnect_initial=0.05,
    reconnect_max=0.3,
    keepalive=5,
    tick=0.05,
)
# An outage the rig ends itself (reconnect), long enough never to end on its own in a test.
UNTIL_RECONNECT_S = 3600.0


class OlpRig:
    """`async with OlpRig(workdir=...) as rig:` — the hardware behind one OlpAdapter."""

    locker_id = "CONF-OLP-01"
    compartments = ("A01", "A02", "A03")
    # The emulator has every feature the adapter declares.
    features: AdapterFeatures = OlpAdapter.features

    def __init__(self, *, workdir: Path) -> None:
        self._broker = Mosquitto(workdir)
        self._instances = itertools.count(1)
        self._bank: EmulatorBank | None = None

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self._broker.start)
        doors = tuple(CompartmentConfig(code, "M") for code in self.compartments)
        self._bank = EmulatorBank(
            mqtt_url=self._broker.url,
            lockers=[LockerConfig(locker_id=self.locker_id, compartments=doors)],
            timing=FAST,
        )
        try:
            await self._bank.__aenter__()
        except BaseException:
            self._broker.kill()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._bank is not None:
                await self._bank.__aexit__(exc_type, exc, tb)
        finally:
            self._broker.kill()

    @property
    def locker(self) -> EmulatedLocker:
        assert self._bank is not None, "enter the rig first"
        return self._bank[self.locker_id]

    # ---- AdapterRig ----------------------------------------------------------------------

    def make_adapter(self, host: AdapterHost) -> LockerAdapter:
        # A fresh instance name per adapter: a second adapter of one test gets its own replies.
        config = OlpConfig(
            mqtt_url=self._broker.url, instance=f"conf-{next(self._instances)}", connect_timeout_s=5
        )
        return OlpAdapter(config=config, host=host)

    async def wait_ready(self, adapter: LockerAdapter) -> None:
        await self.locker.wait_booted()
        while not (await adapter.read_status(self.locker_id)).online:
            await asyncio.sleep(0.02)

    async def close_door(self, code: str, *, item_inside: bool) -> None:
        holds = self.locker.compartment(code).item_inside
        if item_inside and not holds:
            self.locker.deposit(code)
        elif holds and not item_inside:
            self.locker.take(code)
        else:
            self.locker.close(code)

    async def jam(self, code: str) -> None:
        self.locker.update_compartment_faults(code, {"jammed": True})

    async def disconnect(self) -> None:
        self.locker.go_offline(UNTIL_RECONNECT_S)

    async def reconnect(self) -> None:
        # A new outage of zero seconds cuts the running one short: the locker is back at once.
        self.locker.go_offline(0)

    async def lose_next_reply(self) -> None:
        self.locker.lose_next_replies(1)

    def unlock_count(self, code: str) -> int:
        return self.locker.unlock_count(code)

    def door_open(self, code: str) -> bool:
        return self.locker.compartment(code).door == "open"

    # ---- beyond the rig contract ---------------------------------------------------------

    def kill_broker(self) -> None:
        """The broker crashes: the adapter loses its only way to the locker."""
        self._broker.kill()
