"""KerongCu16Adapter: lockers built on Kerong KR-CU16-style RS-485 lock boards.

The boards only answer; they never report. One task per bus polls every board of every
locker on it (command 0x32) at `poll_interval_s`; `PollTracker` turns the door and item
bitmaps into DoorOpened/DoorClosed and the poll results into PresenceChanged. A locker boots
(host.authorize_boot) at its first successful poll, and again whenever it comes back online.

An unlock (0x31) is sent once, ever. The board answers with its status after the release
pulse: door open -> UNLOCKED; hook still closed -> DOOR_JAMMED. A board cannot tell a lock that
did not release from a door that sticks, and either way the compartment cannot be used, so
DOOR_JAMMED (which takes it out of service) is the safe answer rather than UNLOCK_FAILED
(which would let the gateway hand out the same door again). A lost reply is resolved with a
safe read of that lock (0x30): door open -> UNLOCKED, otherwise AdapterTimeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import datetime
from types import TracebackType
from typing import ClassVar, Self

from adapters.kerong_cu16 import frames
from adapters.kerong_cu16.config import KerongCu16Config, KerongLocker, Wiring
from gateway.sdk import (
    AdapterConfig,
    AdapterConfigError,
    AdapterConnectionError,
    AdapterFeatures,
    AdapterHost,
    AdapterProtocolError,
    AdapterTimeout,
    BootInfo,
    BootStatus,
    CompartmentInfo,
    LockerEvent,
    LockerNotConnected,
    LockerStatus,
    OpenOutcome,
    OpenPurpose,
)
from gateway.sdk.domain import ItemSensor
from gateway.sdk.errors import OpenLockerError
from gateway.sdk.polling import DoorReading, PollTracker
from gateway.sdk.serial import SerialBus, SerialSettings

log = logging.getLogger(__name__)


class KerongCu16Adapter:
    name: ClassVar[str] = "kerong-cu16"
    features: ClassVar[AdapterFeatures] = (
        AdapterFeatures.DOOR_SENSOR | AdapterFeatures.ITEM_SENSOR | AdapterFeatures.PRESENCE
    )
    # Typed as the SDK's base: LockerAdapter's ClassVar is invariant.
    config_model: ClassVar[type[AdapterConfig]] = KerongCu16Config

    def __init__(self, *, config: KerongCu16Config, host: AdapterHost) -> None:
        self._config = config
        self._host = host
        # One SerialBus per URL: lockers chained on one bus share it, and so its lock.
        self._buses = {
            url: SerialBus(
                url=url,
                settings=SerialSettings(
                    baudrate=config.lockers[lockers[0]].baudrate,
                    reconnect_min_s=min(0.2, config.poll_interval_s),
                    reconnect_max_s=config.reconnect_max_s,
                ),
            )
            for url, lockers in config.buses().items()
        }
        self._trackers = {
            locker_id: PollTracker(
                locker_id=locker_id, clock=host.now, offline_after=config.offline_after_failures
            )
            for locker_id in config.lockers
        }
        self._booted: set[str] = set()
        self._boot_retry_at: dict[str, float] = {}
        self._quirk_warned: set[tuple[str, int]] = set()
        self._events: asyncio.Queue[LockerEvent] = asyncio.Queue()
        self._stack = AsyncExitStack()
        self._supervisor: asyncio.Task[None] | None = None

    # ---- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        for bus in self._buses.values():
            await self._stack.enter_async_context(bus)
        # The TaskGroup lives in one supervisor task, so that entering and leaving the adapter
        # may happen in different tasks (as pytest-asyncio fixtures do).
        self._supervisor = asyncio.create_task(self._supervise(), name="kerong-cu16")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await supervisor
        await self._stack.aclose()

    async def _supervise(self) -> None:
        async with asyncio.TaskGroup() as group:
            for url, lockers in self._config.buses().items():
                group.create_task(self._poll_bus(url, lockers), name=f"kerong-poll:{url}")

    # ---- the adapter contract ------------------------------------------------------------

    async def open_compartment(
        self,
        locker_id: str,
        compartment_code: str,
        *,
        purpose: OpenPurpose,
        deadline: datetime,
    ) -> OpenOutcome:
        locker = self._locker(locker_id)
        wiring = locker.compartments.get(compartment_code)
        if wiring is None:
            raise AdapterConfigError(
                f"locker {locker_id} has no compartment {compartment_code!r} in the kerong-cu16 "
                f"wiring (known: {', '.join(sorted(locker.compartments))})"
            )
        remaining = (deadline - self._host.now()).total_seconds()
        if remaining <= 0:
            raise AdapterTimeout(f"open {locker_id}/{compartment_code}: deadline already passed")
        if locker_id not in self._booted:
            raise LockerNotConnected(f"locker {locker_id} is offline or has not booted")
        try:
            return await self._unlock(locker_id, locker, compartment_code, wiring, deadline)
        except OpenLockerError:
            raise
        except Exception as err:
            # Whatever a serial library or a codec bug throws, the gateway sees an SDK error.
            raise AdapterProtocolError(
                f"open {locker_id}/{compartment_code} failed: {type(err).__name__}: {err}"
            ) from err

    async def read_status(self, locker_id: str) -> LockerStatus:
        locker = self._locker(locker_id)
        tracker = self._trackers[locker_id]
        readings = tracker.readings
        compartments = tuple(
            CompartmentInfo(
                code=code,
                size_class=wiring.size_class,
                door=readings[code].door,
                item=readings[code].item,
            )
            for code, wiring in locker.compartments.items()
            if code in readings
        )
        details = {"bus": locker.bus_url}
        if tracker.last_error:
            details["error"] = tracker.last_error
        return LockerStatus(
            locker_id=locker_id,
            online=tracker.online,
            booted=locker_id in self._booted,
            compartments=compartments,
            firmware=locker.firmware,
            last_seen=tracker.last_seen,
            details=details,
        )

    async def events(self) -> AsyncIterator[LockerEvent]:
        while True:
            yield await self._events.get()

    # ---- unlocking -----------------------------------------------------------------------

    async def _unlock(
        self,
        locker_id: str,
        locker: KerongLocker,
        code: str,
        wiring: Wiring,
        deadline: datetime,
    ) -> OpenOutcome:
        bus = self._buses[locker.bus_url]
        before = self._trackers[locker_id].readings.get(code)
        reader = frames.StatusReader(board=wiring.board, lenient=self._config.lenient)
        try:
            await bus.exchange(
                frames.encode(frames.Command.UNLOCK, wiring.board, wiring.lock),
                read_reply=reader,
                timeout_s=self._time_left(deadline),
                safe_to_retry=False,
            )
        except AdapterTimeout:
            log.warning(
                "locker %s/%s: unlock reply lost; reading the lock to learn the outcome",
                locker_id,
                code,
            )
            return await self._outcome_by_reading(locker_id, locker, code, wiring, deadline)
        assert reader.status is not None
        self._publish(locker_id, locker, reader.status)
        if reader.status.door_closed(wiring.lock):
            log.warning("locker %s/%s: lock released but the door stays shut", locker_id, code)
            return OpenOutcome.DOOR_JAMMED
        if before is not None and not before.door_closed:
            return OpenOutcome.ALREADY_OPEN
        return OpenOutcome.UNLOCKED

    async def _outcome_by_reading(
        self, locker_id: str, locker: KerongLocker, code: str, wiring: Wiring, deadline: datetime
    ) -> OpenOutcome:
        reader = frames.StatusReader(board=wiring.board, lenient=self._config.lenient)
        try:
            await self._buses[locker.bus_url].exchange(
                frames.encode(frames.Command.READ_ONE, wiring.board, wiring.lock),
                read_reply=reader,
                timeout_s=self._time_left(deadline),
                safe_to_retry=True,
                retries=self._config.read_retries,
            )
        except AdapterTimeout as err:
            raise AdapterTimeout(
                f"open {locker_id}/{code}: no reply to the unlock nor to the read after it; "
                "the outcome is unknown"
            ) from err
        assert reader.status is not None
        self._publish(locker_id, locker, reader.status)
        if reader.status.door_closed(wiring.lock):
            raise AdapterTimeout(
                f"open {locker_id}/{code}: the unlock went unanswered and the door is closed; "
                "not resending it"
            )
        return OpenOutcome.UNLOCKED

    def _time_left(self, deadline: datetime) -> float:
        remaining = (deadline - self._host.now()).total_seconds()
        if remaining <= 0:
            raise AdapterTimeout("deadline passed")
        return min(self._config.reply_timeout_s, remaining)

    # ---- polling -------------------------------------------------------------------------

    async def _poll_bus(self, url: str, locker_ids: list[str]) -> None:
        while True:
            started = time.monotonic()
            for locker_id in locker_ids:
                try:
                    await self._poll_locker(locker_id)
                except Exception:
                    # One bad poll must never stop the loop, let alone the gateway.
                    log.exception("polling locker %s failed", locker_id)
            elapsed = time.monotonic() - started
            await asyncio.sleep(max(0.0, self._config.poll_interval_s - elapsed))

    async def _poll_locker(self, locker_id: str) -> None:
        locker = self._config.lockers[locker_id]
        tracker = self._trackers[locker_id]
        bus = self._buses[locker.bus_url]
        statuses: list[frames.BoardStatus] = []
        for board in locker.boards:
            reader = frames.StatusReader(board=board, lenient=self._config.lenient)
            try:
                await bus.exchange(
                    frames.encode(frames.Command.READ_ALL, board),
                    read_reply=reader,
                    timeout_s=self._config.reply_timeout_s,
                    safe_to_retry=True,
                    retries=self._config.read_retries,
                )
            except (AdapterTimeout, AdapterConnectionError, AdapterProtocolError) as err:
                events = tracker.failed(f"board {board}: {err.description}")
                if events and locker_id in self._booted:
                    # Offline ends the boot session, as for any locker: it boots again on return.
                    self._emit(locker_id, events)
                    self._booted.discard(locker_id)
                return
            assert reader.status is not None
            statuses.append(reader.status)
        if locker_id not in self._booted:
            await self._boot(locker_id, locker, statuses)
        for status in statuses:
            self._publish(locker_id, locker, status)

    def _publish(self, locker_id: str, locker: KerongLocker, status: frames.BoardStatus) -> None:
        """Feed one board's status to the tracker and pass on what changed."""
        if status.quirk and (locker.bus_url, status.board) not in self._quirk_warned:
            self._quirk_warned.add((locker.bus_url, status.board))
            log.warning(
                "locker %s board %d: checksum without STX accepted (lenient mode)",
                locker_id,
                status.board,
            )
        self._emit(locker_id, self._trackers[locker_id].observe(_readings(locker, status)))

    def _emit(self, locker_id: str, events: list[LockerEvent]) -> None:
        if locker_id not in self._booted:
            return  # a locker the gateway has not accepted has nothing to say yet
        for event in events:
            self._events.put_nowait(event)

    async def _boot(
        self, locker_id: str, locker: KerongLocker, statuses: list[frames.BoardStatus]
    ) -> None:
        if time.monotonic() < self._boot_retry_at.get(locker_id, 0.0):
            return
        readings: dict[str, DoorReading] = {}
        for status in statuses:
            readings.update(_readings(locker, status))
        info = BootInfo(
            vendor="Kerong",
            model=locker.model,
            firmware=locker.firmware,
            compartments=tuple(
                CompartmentInfo(
                    code=code,
                    size_class=wiring.size_class,
                    door=readings[code].door,
                    item=readings[code].item,
                )
                for code, wiring in locker.compartments.items()
            ),
            serial_number=locker.serial_number,
        )
        decision = await self._host.authorize_boot(locker_id, info)
        if decision.status is BootStatus.ACCEPTED:
            self._booted.add(locker_id)
            log.info("locker %s booted on %s", locker_id, locker.bus_url)
            return
        retry_s = min(self._config.boot_retry_s, decision.heartbeat_interval_s)
        self._boot_retry_at[locker_id] = time.monotonic() + retry_s
        log.warning(
            "locker %s boot %s: %s; asking again in %g s",
            locker_id,
            decision.status,
            decision.reason or "no reason given",
            retry_s,
        )

    def _locker(self, locker_id: str) -> KerongLocker:
        locker = self._config.lockers.get(locker_id)
        if locker is None:
            raise AdapterConfigError(f"locker {locker_id!r} is not configured for kerong-cu16")
        return locker


def _readings(locker: KerongLocker, status: frames.BoardStatus) -> dict[str, DoorReading]:
    """The readings of this locker's compartments on the board that answered."""
    return {
        code: DoorReading(
            door_closed=status.door_closed(wiring.lock),
            item=ItemSensor.PRESENT if status.item_present(wiring.lock) else ItemSensor.ABSENT,
        )
        for code, wiring in locker.compartments.items()
        if wiring.board == status.board
    }
