"""KerongRig: emulated Kerong boards on a TCP bus behind a `kerong-cu16` adapter, for tests."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from locker_emulator.boards import KerongBoards, KerongQuirk, LockBank, TcpBus

from adapters.kerong_cu16 import KerongCu16Adapter, KerongCu16Config
from gateway.sdk import AdapterFeatures, AdapterHost, LockerAdapter

LOCKER_ID = "KR-001"
# Compartment code -> (board, lock): two boards chained on the bus, the far lock of each.
WIRING: Mapping[str, tuple[int, int]] = {"A01": (0, 1), "A02": (0, 2), "B16": (1, 16)}


class KerongRig:
    """The hardware behind one kerong-cu16 adapter: a lock bank, its boards, a bus over TCP."""

    locker_id = LOCKER_ID
    compartments = tuple(WIRING)
    features = AdapterFeatures.DOOR_SENSOR | AdapterFeatures.ITEM_SENSOR | AdapterFeatures.PRESENCE

    def __init__(
        self,
        *,
        quirk: KerongQuirk | None = None,
        poll_interval_s: float = 0.05,
        reply_timeout_s: float = 0.3,
        **options: Any,
    ) -> None:
        self.bank = LockBank(boards=2)
        self.boards = KerongBoards(bank=self.bank, quirk=quirk)
        self.bus = TcpBus(handler=self.boards, name="kerong-test")
        self._options = {
            "poll_interval_s": poll_interval_s,
            "reply_timeout_s": reply_timeout_s,
            "reconnect_max_s": 0.5,
            **options,
        }

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

    def config(self) -> dict[str, Any]:
        """The adapter's settings, as an operator writes them under adapters.kerong-cu16."""
        return {
            "lockers": {
                LOCKER_ID: {
                    "bus_url": self.bus.url,
                    "compartments": {
                        code: {"board": board, "lock": lock, "size_class": "M"}
                        for code, (board, lock) in WIRING.items()
                    },
                    "firmware": "emulated-1.0",
                }
            },
            **self._options,
        }

    # ---- the AdapterRig protocol ---------------------------------------------------------

    def make_adapter(self, host: AdapterHost) -> LockerAdapter:
        return KerongCu16Adapter(config=KerongCu16Config.model_validate(self.config()), host=host)

    async def wait_ready(self, adapter: LockerAdapter) -> None:
        async with asyncio.timeout(10):
            while True:
                status = await adapter.read_status(LOCKER_ID)
                if status.booted and status.online:
                    return
                await asyncio.sleep(0.02)

    async def close_door(self, code: str, *, item_inside: bool) -> None:
        self.bank.close(*WIRING[code], item_inside=item_inside)

    async def jam(self, code: str) -> None:
        self.bank.set_stuck(*WIRING[code])

    async def disconnect(self) -> None:
        await self.bus.power_off()

    async def reconnect(self) -> None:
        await self.bus.power_on()

    async def lose_next_reply(self) -> None:
        self.bus.drop_next()

    def unlock_count(self, code: str) -> int:
        return self.bank.releases(*WIRING[code])

    def door_open(self, code: str) -> bool:
        return not self.bank.door_closed(*WIRING[code])
