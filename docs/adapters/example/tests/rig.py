"""The rig for the conformance kit: a fake LB-8 board behind an AcmeLb8Adapter."""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from acme_lb8 import AcmeLb8Adapter, AcmeLb8Config
from fake_board import FakeBoard

from gateway.sdk import AdapterHost, LockerAdapter


class AcmeRig:
    locker_id = "ACME-0001"
    compartments = ("A1", "A2", "A3")
    features = AcmeLb8Adapter.features

    def __init__(self) -> None:
        self.board = FakeBoard(doors=len(self.compartments))

    async def __aenter__(self) -> Self:
        await self.board.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.board.__aexit__(exc_type, exc, tb)

    def _door(self, code: str) -> int:
        return self.compartments.index(code) + 1

    def make_adapter(self, host: AdapterHost) -> LockerAdapter:
        config = AcmeLb8Config(
            locker_id=self.locker_id,
            port=self.board.port,
            doors=self.compartments,
            reconnect_s=0.05,
        )
        return AcmeLb8Adapter(config=config, host=host)

    async def wait_ready(self, adapter: LockerAdapter) -> None:
        # The adapter offers no "ready" signal but its status: poll it.
        while not (await adapter.read_status(self.locker_id)).online:  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    async def close_door(self, code: str, *, item_inside: bool) -> None:
        self.board.close_door(self._door(code), full=item_inside)

    async def jam(self, code: str) -> None:
        self.board.doors[self._door(code)].jammed = True

    async def disconnect(self) -> None:
        await self.board.power_off()

    async def reconnect(self) -> None:
        await self.board.power_on()

    async def lose_next_reply(self) -> None:
        self.board.lose_replies += 1

    def unlock_count(self, code: str) -> int:
        return self.board.doors[self._door(code)].unlocks

    def door_open(self, code: str) -> bool:
        return self.board.doors[self._door(code)].open
