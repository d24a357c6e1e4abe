"""AcmeLb8Adapter: one LB-8 lock board over TCP, as one OpenLocker locker.

The board pushes door moves on the same connection that carries the replies to our requests,
so the line reader must never wait: events go to the locker's lane (`LockerLanes.offer`), whose
own task hands them to the gateway (`host.locker_event`). A reader that awaited the gateway
would stall the reply of an unlock the gateway asks for while it handles a door event (a
keypad code, say): a deadlock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import uuid
from datetime import datetime
from types import TracebackType
from typing import ClassVar, Self

from acme_lb8 import protocol
from acme_lb8.config import AcmeLb8Config
from gateway.sdk import (
    AdapterConfig,
    AdapterConnectionError,
    AdapterError,
    AdapterFeatures,
    AdapterHost,
    AdapterProtocolError,
    AdapterTimeout,
    BootInfo,
    BootStatus,
    CompartmentInfo,
    DoorClosed,
    DoorOpened,
    DoorState,
    ItemSensor,
    LockerEvent,
    LockerLanes,
    LockerNotConnected,
    LockerStatus,
    OpenOutcome,
    OpenPurpose,
    PresenceChanged,
    SizeClass,
    background,
    backoff_s,
)

log = logging.getLogger(__name__)


class _LinkLost(Exception):
    """The board closed the connection."""


class AcmeLb8Adapter:
    name: ClassVar[str] = "acme-lb8"
    features: ClassVar[AdapterFeatures] = (
        AdapterFeatures.DOOR_SENSOR | AdapterFeatures.ITEM_SENSOR | AdapterFeatures.PRESENCE
    )
    config_model: ClassVar[type[AdapterConfig]] = AcmeLb8Config

    def __init__(self, *, config: AcmeLb8Config, host: AdapterHost) -> None:
        self._config = config
        self._host = host
        self._door_of = {code: n for n, code in enumerate(config.doors, start=1)}
        self._code_of = {n: code for code, n in self._door_of.items()}
        self._doors = {
            code: CompartmentInfo(code=code, size_class=SizeClass.M) for code in config.doors
        }
        self._online = False
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[int, asyncio.Future[protocol.Reply]] = {}
        self._request_ids = itertools.count(1)
        self._seq = itertools.count(1)
        # The locker's lane: its events, in order, handed to the gateway one at a time.
        self._lanes: LockerLanes[LockerEvent] = LockerLanes(
            self.name, handler=self._hand_over, capacity=config.event_lane_capacity
        )
        self._stack = contextlib.AsyncExitStack()

    # ---- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(self._lanes)
            # The connection loop: one named task, stopped when the stack is closed.
            loop = background(self._run(), name=f"acme-lb8:{self._config.locker_id}")
            await stack.enter_async_context(loop)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()  # the loop first, then the lane
        self._fail_pending(AdapterConnectionError("the acme-lb8 adapter is stopping"))

    # ---- the adapter contract ------------------------------------------------------------

    async def open_compartment(
        self, locker_id: str, compartment_code: str, *, purpose: OpenPurpose, deadline: datetime
    ) -> OpenOutcome:
        door = self._door(locker_id, compartment_code)
        remaining = (deadline - self._host.now()).total_seconds()
        if remaining <= 0:
            raise AdapterTimeout(f"open {compartment_code}: the deadline has already passed")
        # Sent once. A lost reply is an AdapterTimeout: the gateway, not the adapter, decides
        # whether to open again, because the door may well be open already.
        reply = await self._request("OPEN", door, remaining)
        if reply.words == ("OPENED",):
            return OpenOutcome.UNLOCKED
        if reply.words == ("JAMMED",):
            return OpenOutcome.DOOR_JAMMED
        raise AdapterProtocolError(f"open {compartment_code}: unexpected reply {reply.words}")

    async def read_status(self, locker_id: str) -> LockerStatus:
        if locker_id != self._config.locker_id:
            return LockerStatus(locker_id=locker_id, online=False, booted=False)
        return LockerStatus(
            locker_id=locker_id,
            online=self._online,
            booted=self._online,
            compartments=tuple(self._doors.values()),
        )

    # ---- the connection ------------------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                async with asyncio.timeout(self._config.connect_timeout_s):
                    reader, writer = await asyncio.open_connection(
                        self._config.host, self._config.port
                    )
            except (OSError, TimeoutError) as err:
                log.info("LB-8 %s unreachable: %s", self._config.host, err)
            else:
                if await self._session(reader, writer):
                    failures = 0  # it was online: the back-off starts over
            failures += 1
            pause_s = backoff_s(
                failures,
                base_s=self._config.reconnect_s,
                cap_s=max(self._config.reconnect_max_s, self._config.reconnect_s),
            )
            await asyncio.sleep(pause_s)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One connection, until it is lost; True if the locker was online during it."""
        was_online = False
        self._writer = writer
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._read(reader), name="acme-lb8-read")
                tg.create_task(self._come_online(), name="acme-lb8-online")
        except* (_LinkLost, OSError, AdapterError, AdapterTimeout) as lost:
            log.warning("LB-8 %s: connection lost: %s", self._config.host, lost.exceptions[0])
        finally:
            self._writer = None
            writer.close()
            self._fail_pending(AdapterConnectionError("connection to the board lost"))
            if self._online:
                self._online, was_online = False, True
                # Refused only when the lane is full; the lane counts it and logs the episode.
                self._lanes.offer(self._config.locker_id, self._presence(online=False))
        return was_online

    async def _come_online(self) -> None:
        """Read every door (safe reads), ask the gateway to accept the board, then go online."""
        for code, door in self._door_of.items():
            reply = await self._request("READ", door, self._config.connect_timeout_s)
            if len(reply.words) != 2:
                raise AdapterProtocolError(f"READ {door}: unexpected reply {reply.words}")
            is_open, full = reply.words[0] == "OPEN", reply.words[1] == "FULL"
            self._set_door(code, is_open=is_open, full=full)
        info = BootInfo(
            vendor="ACME",
            model="LB-8",
            firmware="unknown",
            compartments=tuple(self._doors.values()),
        )
        decision = await self._host.authorize_boot(self._config.locker_id, info)
        if decision.status is not BootStatus.ACCEPTED:
            raise _LinkLost(f"the gateway did not accept the locker: {decision.reason}")
        self._online = True
        self._emit_or_resync(self._presence(online=True))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while True:
            line = await reader.readline()
            if not line:
                raise _LinkLost("the board closed the connection")
            try:
                parsed = protocol.parse(line, lenient=self._config.lenient)
            except AdapterProtocolError as err:
                log.warning("LB-8 %s: ignoring a line: %s", self._config.host, err)
                continue
            if parsed.quirk is not None:
                log.warning(
                    "LB-8 %s: accepted a quirk (lenient): %s", self._config.host, parsed.quirk
                )
            message = parsed.message
            if isinstance(message, protocol.Reply):
                waiter = self._pending.pop(message.request_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
            else:
                self._door_moved(message)

    async def _request(self, verb: str, door: int, timeout_s: float) -> protocol.Reply:
        writer = self._writer
        if writer is None:
            raise LockerNotConnected(f"locker {self._config.locker_id}: the board is not connected")
        request_id = next(self._request_ids)
        waiter: asyncio.Future[protocol.Reply] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = waiter
        try:
            try:
                writer.write(protocol.request(request_id, verb, door))
                await writer.drain()
            except OSError as err:
                raise AdapterConnectionError(f"{verb} {door}: {err}") from err
            try:
                async with asyncio.timeout(timeout_s):
                    reply = await waiter
            except TimeoutError as err:
                raise AdapterTimeout(f"{verb} {door}: no reply within {timeout_s:g} s") from err
        finally:
            self._pending.pop(request_id, None)
        if not reply.ok:
            raise AdapterProtocolError(f"{verb} {door} refused: {' '.join(reply.words)}")
        return reply

    def _fail_pending(self, error: Exception) -> None:
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(error)
        self._pending.clear()

    # ---- doors and events ----------------------------------------------------------------

    def _door(self, locker_id: str, code: str) -> int:
        if locker_id != self._config.locker_id:
            raise LockerNotConnected(
                f"this adapter drives {self._config.locker_id}, not {locker_id}"
            )
        door = self._door_of.get(code)
        if door is None:
            raise AdapterProtocolError(f"locker {locker_id} has no compartment {code!r}")
        return door

    def _door_moved(self, push: protocol.DoorPush) -> None:
        code = self._code_of.get(push.door)
        if code is None:
            log.warning("LB-8 %s reports unknown door %d", self._config.host, push.door)
            return
        self._set_door(code, is_open=push.open, full=push.full)
        locker_id, at, event_id = self._config.locker_id, self._host.now(), uuid.uuid4().hex
        if push.open:
            self._emit_or_resync(
                DoorOpened(
                    locker_id=locker_id, at=at, event_id=event_id, seq=next(self._seq),
                    compartment_code=code,
                )
            )  # fmt: skip
        else:
            self._emit_or_resync(
                DoorClosed(
                    locker_id=locker_id, at=at, event_id=event_id, seq=next(self._seq),
                    compartment_code=code, item=self._doors[code].item,
                )
            )  # fmt: skip

    def _emit_or_resync(self, event: LockerEvent) -> None:
        """Queue the event in the locker's lane without waiting, or start the session over.

        The lane is full only when the gateway is far behind this locker. Waiting for room
        would stall the reader (and the replies it carries); dropping the event would lose a
        door. So the session ends instead: the adapter reconnects, reads every door again and
        announces the locker, whose boot carries the state of every door.
        """
        if not self._lanes.offer(event.locker_id, event):
            raise _LinkLost("the gateway is behind this locker's events; resynchronising")

    async def _hand_over(self, locker_id: str, event: LockerEvent) -> None:
        await self._host.locker_event(event)

    def _set_door(self, code: str, *, is_open: bool, full: bool | None) -> None:
        known = self._doors[code]
        item = known.item if full is None else ItemSensor.PRESENT if full else ItemSensor.ABSENT
        door = DoorState.OPEN if is_open else DoorState.CLOSED
        self._doors[code] = CompartmentInfo(
            code=code, size_class=known.size_class, door=door, item=item
        )

    def _presence(self, *, online: bool) -> PresenceChanged:
        return PresenceChanged(
            locker_id=self._config.locker_id, at=self._host.now(),
            event_id=uuid.uuid4().hex, seq=next(self._seq), online=online,
        )  # fmt: skip
