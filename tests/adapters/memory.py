"""An in-memory lock board, a correct adapter for it, and adapters with the bugs vendors make.

The kit's self-test (test_kit_catches_bugs.py) runs the conformance suite on each: the correct
adapter must pass, every broken one must fail the check written for its bug.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import ClassVar, Self

from gateway.sdk import (
    AdapterConfig,
    AdapterConnectionError,
    AdapterFeatures,
    AdapterHost,
    AdapterProtocolError,
    AdapterTimeout,
    CompartmentInfo,
    DoorClosed,
    DoorOpened,
    LockerAdapter,
    LockerEvent,
    LockerLanes,
    LockerNotConnected,
    LockerStatus,
    OpenOutcome,
    OpenPurpose,
    PresenceChanged,
    TaskSet,
)
from gateway.sdk.domain import DoorState, ItemSensor, SizeClass


class BoardUnreachable(ConnectionError):
    """The board's own error: what its client library raises when the cable is out."""


@dataclass(slots=True)
class Door:
    open: bool = False
    item: bool = False
    jammed: bool = False
    unlocks: int = 0


@dataclass(frozen=True, slots=True)
class Notice:
    """What the board pushes to its client: a door moved, or the link changed."""

    what: str  # "opened" | "closed" | "online" | "offline"
    code: str | None = None
    item: bool = False


class MemoryBoard:
    """A lock board in memory: unlock and read commands, door notices, faults for the rig."""

    def __init__(self, codes: Sequence[str]) -> None:
        self.doors = {code: Door() for code in codes}
        self.online = True
        self.lose_replies = 0
        self.notices: asyncio.Queue[Notice] = asyncio.Queue()
        self._hanging: set[asyncio.Future[None]] = set()

    async def unlock(self, code: str) -> bool:
        """Energise the lock; True when the door swung open (False: it is jammed)."""
        await self._link()
        door = self.doors[code]
        opened = False
        if not door.jammed:
            door.unlocks += 1
            if not door.open:
                door.open = opened = True
                self.notices.put_nowait(Notice("opened", code))
        if self.lose_replies:
            self.lose_replies -= 1
            await self._hang()
        return opened or door.open

    async def read(self, code: str) -> Door:
        await self._link()
        return self.doors[code]

    def close(self, code: str, item: bool) -> None:
        door = self.doors[code]
        assert door.open, f"door {code} is not open"
        door.open, door.item = False, item
        self.notices.put_nowait(Notice("closed", code, item))

    def set_online(self, online: bool) -> None:
        self.online = online
        self.notices.put_nowait(Notice("online" if online else "offline"))
        if not online:
            self.detach()

    def detach(self) -> None:
        """The client closed its connection: calls still waiting for a reply fail now."""
        for waiter in self._hanging:
            if not waiter.done():
                waiter.set_exception(BoardUnreachable("connection closed"))
        self._hanging.clear()

    async def _link(self) -> None:
        await asyncio.sleep(0.005)
        if not self.online:
            raise BoardUnreachable("no answer from the board")

    async def _hang(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._hanging.add(waiter)
        await waiter


class MemoryConfig(AdapterConfig):
    locker_id: str
    compartments: tuple[str, ...]


class MemoryAdapter:
    """A correct adapter for the in-memory board."""

    name: ClassVar[str] = "memory"
    features: ClassVar[AdapterFeatures] = (
        AdapterFeatures.DOOR_SENSOR | AdapterFeatures.ITEM_SENSOR | AdapterFeatures.PRESENCE
    )
    config_model: ClassVar[type[AdapterConfig]] = MemoryConfig

    def __init__(self, *, config: MemoryConfig, host: AdapterHost, board: MemoryBoard) -> None:
        self._config = config
        self._host = host
        self._board = board
        self._seq = itertools.count(1)
        self._lanes: LockerLanes[LockerEvent] = LockerLanes(
            "memory", handler=self._hand_over, capacity=64
        )
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Self:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(self._lanes)
            tasks = await stack.enter_async_context(TaskSet("memory"))
            tasks.start(self._relay(), name="memory-adapter-notices")
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._board.detach()
        await self._stack.aclose()

    async def open_compartment(
        self, locker_id: str, compartment_code: str, *, purpose: OpenPurpose, deadline: datetime
    ) -> OpenOutcome:
        self._check(locker_id, compartment_code)
        remaining = (deadline - self._host.now()).total_seconds()
        if remaining <= 0:
            raise AdapterTimeout(f"open {compartment_code}: the deadline has passed")
        return await self._unlock(compartment_code, remaining)

    async def _unlock(self, code: str, remaining: float) -> OpenOutcome:
        try:
            async with asyncio.timeout(remaining):
                opened = await self._board.unlock(code)
        except TimeoutError as err:
            raise AdapterTimeout(f"open {code}: no reply from the board") from err
        except BoardUnreachable as err:
            raise AdapterConnectionError(f"open {code}: {err}") from err
        return OpenOutcome.UNLOCKED if opened else OpenOutcome.DOOR_JAMMED

    def _check(self, locker_id: str, code: str) -> None:
        if locker_id != self._config.locker_id:
            raise LockerNotConnected(f"this board drives {self._config.locker_id}, not {locker_id}")
        if code not in self._config.compartments:
            raise AdapterProtocolError(f"locker {locker_id} has no compartment {code!r}")

    async def read_status(self, locker_id: str) -> LockerStatus:
        if locker_id != self._config.locker_id:
            return LockerStatus(locker_id=locker_id, online=False, booted=False)
        doors = tuple(
            CompartmentInfo(
                code=code,
                size_class=SizeClass.M,
                door=DoorState.OPEN if door.open else DoorState.CLOSED,
                item=ItemSensor.PRESENT if door.item else ItemSensor.ABSENT,
            )
            for code, door in self._board.doors.items()
        )
        online = self._board.online
        return LockerStatus(locker_id=locker_id, online=online, booted=online, compartments=doors)

    async def _relay(self) -> None:
        while True:
            notice = await self._board.notices.get()
            await self.emit(notice)

    async def emit(self, notice: Notice) -> None:
        # put(): when the gateway falls behind, the relay waits and the board's notices wait
        # in the board's own buffer. Nothing on an unlock's path waits here (the reply of an
        # unlock does not pass the relay), so a handler that opens a door cannot deadlock.
        await self._lanes.put(self._config.locker_id, self.event(notice))

    async def _hand_over(self, locker_id: str, event: LockerEvent) -> None:
        await self._host.locker_event(event)

    def event(self, notice: Notice) -> LockerEvent:
        """The event a board notice reports, numbered when made."""
        locker_id, at, event_id = self._config.locker_id, self._host.now(), uuid.uuid4().hex
        seq = next(self._seq)
        event: LockerEvent
        if notice.what == "opened":
            event = DoorOpened(
                locker_id=locker_id, at=at, event_id=event_id, seq=seq,
                compartment_code=str(notice.code),
            )  # fmt: skip
        elif notice.what == "closed":
            event = DoorClosed(
                locker_id=locker_id, at=at, event_id=event_id, seq=seq,
                compartment_code=str(notice.code),
                item=ItemSensor.PRESENT if notice.item else ItemSensor.ABSENT,
            )  # fmt: skip
        else:
            event = PresenceChanged(
                locker_id=locker_id, at=at, event_id=event_id, seq=seq,
                online=notice.what == "online",
            )  # fmt: skip
        return event


# ---- the bugs -------------------------------------------------------------------------------


class RetryingAdapter(MemoryAdapter):
    """Bug: retries an unlock whose reply did not come, so one open may release twice."""

    async def _unlock(self, code: str, remaining: float) -> OpenOutcome:
        try:
            return await super()._unlock(code, remaining / 2)
        except AdapterTimeout:
            return await super()._unlock(code, remaining / 2)


class ForeignErrorAdapter(MemoryAdapter):
    """Bug: lets the board library's own exception escape instead of an SDK error."""

    async def _unlock(self, code: str, remaining: float) -> OpenOutcome:
        async with asyncio.timeout(remaining):
            opened = await self._board.unlock(code)
        return OpenOutcome.UNLOCKED if opened else OpenOutcome.DOOR_JAMMED


class LateOpenedAdapter(MemoryAdapter):
    """Bug: reports DoorOpened from the command's reply, later, instead of as it happens."""

    async def emit(self, notice: Notice) -> None:
        if notice.what == "opened":
            locker_id = self._config.locker_id
            asyncio.get_running_loop().call_later(
                0.2, lambda: self._lanes.offer(locker_id, self.event(notice))
            )
        else:
            await super().emit(notice)


class LaneBypassAdapter(MemoryAdapter):
    """Bug: hands each event to the gateway from a task of its own instead of the locker's
    lane, so two events of one locker are applied at the same time, in no set order."""

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self._bypass = await self._stack.enter_async_context(TaskSet("memory-bypass"))
        return self

    async def emit(self, notice: Notice) -> None:
        event = self.event(notice)
        self._bypass.start(self._host.locker_event(event), name=f"event:{event.event_id}")


class InlineHandOverAdapter(MemoryAdapter):
    """Bug: hands each event to the gateway inline, holding the board's lock that an unlock
    waits for, so an open the gateway asks for while it handles an event never starts."""

    def __init__(self, *, config: MemoryConfig, host: AdapterHost, board: MemoryBoard) -> None:
        super().__init__(config=config, host=host, board=board)
        self._board_lock = asyncio.Lock()

    async def emit(self, notice: Notice) -> None:
        async with self._board_lock:
            await self._host.locker_event(self.event(notice))

    async def _unlock(self, code: str, remaining: float) -> OpenOutcome:
        async with self._board_lock:  # wait until the board is free
            pass
        return await super()._unlock(code, remaining)


class DeadlineBlindAdapter(MemoryAdapter):
    """Bug: unlocks even when the deadline has passed."""

    async def open_compartment(
        self, locker_id: str, compartment_code: str, *, purpose: OpenPurpose, deadline: datetime
    ) -> OpenOutcome:
        self._check(locker_id, compartment_code)
        remaining = (deadline - self._host.now()).total_seconds()
        return await self._unlock(compartment_code, max(remaining, 1.0))


class LeakyAdapter(MemoryAdapter):
    """Bug: leaves its notice reader running after exit."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._board.detach()


class FlagWithoutMethodAdapter(MemoryAdapter):
    """Bug: declares DISPLAY but has no `display` method, so the gateway would ignore it."""

    features: ClassVar[AdapterFeatures] = MemoryAdapter.features | AdapterFeatures.DISPLAY


class MemoryRig:
    """The rig of the in-memory board, for any of the adapters above."""

    locker_id = "MEM-001"
    compartments = ("D1", "D2", "D3")
    features = MemoryAdapter.features

    def __init__(self, *, adapter_class: type[MemoryAdapter] = MemoryAdapter) -> None:
        self.adapter_class = adapter_class
        self.board = MemoryBoard(self.compartments)

    def make_adapter(self, host: AdapterHost) -> LockerAdapter:
        config = MemoryConfig(locker_id=self.locker_id, compartments=self.compartments)
        return self.adapter_class(config=config, host=host, board=self.board)

    async def wait_ready(self, adapter: LockerAdapter) -> None:
        while not (await adapter.read_status(self.locker_id)).online:
            await asyncio.sleep(0.01)

    async def close_door(self, code: str, *, item_inside: bool) -> None:
        self.board.close(code, item_inside)

    async def jam(self, code: str) -> None:
        self.board.doors[code].jammed = True

    async def disconnect(self) -> None:
        self.board.set_online(False)

    async def reconnect(self) -> None:
        self.board.set_online(True)

    async def lose_next_reply(self) -> None:
        self.board.lose_replies += 1

    def unlock_count(self, code: str) -> int:
        return self.board.doors[code].unlocks

    def door_open(self, code: str) -> bool:
        return self.board.doors[code].open
