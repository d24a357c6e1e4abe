"""KerongCu16Adapter: lockers built on Kerong KR-CU16-style RS-485 lock boards.

The boards only answer; they never report. One task per bus polls every board of every
locker on it (command 0x32) at `poll_interval_s`; `PollTracker` turns the door and item
bitmaps into DoorOpened/DoorClosed and the poll results into PresenceChanged; the SDK's
`PolledLocker` does the boot gating (at the first successful poll, and again whenever the
locker comes back online) and drops a poll's board status that an unlock has overtaken.
`BoardEvents` hands the events to the gateway from one lane per locker, without ever making a
poll or an unlock wait for the gateway (see its docstring for the overload path).

An unlock (0x31) is sent once, ever. The board answers with its status after the release
pulse: door open -> UNLOCKED; hook still closed -> DOOR_JAMMED. A board cannot tell a lock that
did not release from a door that sticks, and either way the compartment cannot be used, so
DOOR_JAMMED (which takes it out of service) is the safe answer rather than UNLOCK_FAILED
(which would let the gateway hand out the same door again). A lost reply is resolved with a
safe read of that lock (0x30): door open -> UNLOCKED, otherwise AdapterTimeout.
"""

from __future__ import annotations

import logging
import time
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
    BoardEvents,
    BootInfo,
    CompartmentInfo,
    DoorReading,
    ItemSensor,
    LockerStatus,
    OpenLockerError,
    OpenOutcome,
    OpenPurpose,
    PolledLocker,
    SerialBus,
    SerialSettings,
    TaskSet,
    poll_forever,
    seconds_left,
)

log = logging.getLogger(__name__)


class KerongCu16Adapter:
    name: ClassVar[str] = "kerong-cu16"
    features: ClassVar[AdapterFeatures] = (
        AdapterFeatures.DOOR_SENSOR | AdapterFeatures.ITEM_SENSOR | AdapterFeatures.PRESENCE
    )
    # Typed as the SDK's base: LockerAdapter's ClassVar is invariant.
    config_model: ClassVar[type[AdapterConfig]] = KerongCu16Config
    # One process per RS-485 line: with several gateway instances only the holder of the bus
    # lease runs it (gateway/service/bus_lease.py).
    bus_bound: ClassVar[bool] = True

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
        self._polled = {
            locker_id: PolledLocker(
                locker_id=locker_id,
                host=host,
                offline_after=config.offline_after_failures,
                boot_retry_s=config.boot_retry_s,
            )
            for locker_id in config.lockers
        }
        self._quirk_warned: set[tuple[str, int]] = set()
        # Replies dropped as not answering the request waited for (late replies, another
        # board's): counted here, and logged once per episode and bus (see `_count_stale`).
        self.stale_replies = 0
        # Bytes skipped while resynchronising: line noise, broken frames, bad checksums (a
        # stale reply's bytes are not counted twice). Counted, not logged: noise is routine.
        self.noise_bytes = 0
        # Bus URL -> when it last dropped one, while its episode lasts; an episode ends after
        # this many seconds without a drop (a slow bus does not drop at every single exchange).
        self._stale_since_drop: dict[str, float] = {}
        self._stale_quiet_s = 20 * config.poll_interval_s
        self._events = BoardEvents(self.name, host)
        self._stack = AsyncExitStack()

    # ---- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        # Left in reverse: the polls stop first, then the lanes (whose handlers may still ask
        # for an unlock on a bus), then the buses.
        async with AsyncExitStack() as stack:
            for bus in self._buses.values():
                await stack.enter_async_context(bus)
            await stack.enter_async_context(self._events)
            polls = await stack.enter_async_context(TaskSet(f"{self.name}:polls"))
            for url, lockers in self._config.buses().items():
                poll = poll_forever(
                    interval_s=self._config.poll_interval_s,
                    lockers={locker_id: locker_id for locker_id in lockers},
                    poll=self._poll_locker,
                )
                polls.start(poll, name=f"kerong-poll:{url}")
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

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
        what = f"open {locker_id}/{compartment_code}"
        seconds_left(deadline, self._host.now(), what=what)
        self._polled[locker_id].require_booted(what)
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
        polled = self._polled[locker_id]
        tracker = polled.tracker
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
            booted=polled.booted,
            compartments=compartments,
            firmware=locker.firmware,
            last_seen=tracker.last_seen,
            details=details,
        )

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
        polled = self._polled[locker_id]
        before = polled.tracker.readings.get(code)
        command = frames.Command.UNLOCK
        reader = _reader(wiring.board, wiring.lock, command, lenient=self._config.lenient)
        ticket = polled.ticket()
        try:
            await bus.exchange(
                frames.encode(command, wiring.board, wiring.lock),
                read_reply=reader,
                timeout_s=self._time_left(deadline),
                safe_to_retry=False,
            )
        except AdapterTimeout:
            self._count_stale(locker.bus_url, reader, answered=False)
            log.warning(
                "locker %s/%s: unlock reply lost; reading the lock to learn the outcome",
                locker_id,
                code,
            )
            return await self._outcome_by_reading(locker_id, locker, code, wiring, deadline)
        self._count_stale(locker.bus_url, reader, answered=True)
        assert reader.status is not None
        self._publish(locker_id, locker, reader.status, ticket)
        if reader.status.door_closed(wiring.lock):
            log.warning("locker %s/%s: lock released but the door stays shut", locker_id, code)
            return OpenOutcome.DOOR_JAMMED
        if before is not None and not before.door_closed:
            return OpenOutcome.ALREADY_OPEN
        return OpenOutcome.UNLOCKED

    async def _outcome_by_reading(
        self, locker_id: str, locker: KerongLocker, code: str, wiring: Wiring, deadline: datetime
    ) -> OpenOutcome:
        command = frames.Command.READ_ONE
        reader = _reader(wiring.board, wiring.lock, command, lenient=self._config.lenient)
        ticket = self._polled[locker_id].ticket()
        try:
            await self._buses[locker.bus_url].exchange(
                frames.encode(command, wiring.board, wiring.lock),
                read_reply=reader,
                timeout_s=self._time_left(deadline),
                safe_to_retry=True,
                retries=self._config.read_retries,
            )
        except AdapterTimeout as err:
            self._count_stale(locker.bus_url, reader, answered=False)
            raise AdapterTimeout(
                f"open {locker_id}/{code}: no reply to the unlock nor to the read after it; "
                "the outcome is unknown"
            ) from err
        assert reader.status is not None
        self._publish(locker_id, locker, reader.status, ticket)
        if reader.status.door_closed(wiring.lock):
            raise AdapterTimeout(
                f"open {locker_id}/{code}: the unlock went unanswered and the door is closed; "
                "not resending it"
            )
        self._count_stale(locker.bus_url, reader, answered=True)
        return OpenOutcome.UNLOCKED

    def _time_left(self, deadline: datetime) -> float:
        return seconds_left(
            deadline, self._host.now(), what="unlock", cap=self._config.reply_timeout_s
        )

    # ---- polling -------------------------------------------------------------------------

    async def _poll_locker(self, locker_id: str) -> None:
        locker = self._config.lockers[locker_id]
        polled = self._polled[locker_id]
        bus = self._buses[locker.bus_url]
        # Each board's status with the ticket taken as its read went out on the bus.
        statuses: list[tuple[int, frames.BoardStatus]] = []
        for board in locker.boards:
            # READ_ALL goes out with lock nibble 0, which the board echoes.
            reader = _reader(board, 1, frames.Command.READ_ALL, lenient=self._config.lenient)
            ticket = polled.ticket()
            try:
                await bus.exchange(
                    frames.encode(frames.Command.READ_ALL, board),
                    read_reply=reader,
                    timeout_s=self._config.reply_timeout_s,
                    safe_to_retry=True,
                    retries=self._config.read_retries,
                )
            except (AdapterTimeout, AdapterConnectionError, AdapterProtocolError) as err:
                self._count_stale(locker.bus_url, reader, answered=False)
                self._events.publish(polled, polled.failed(f"board {board}: {err.description}"))
                return
            self._count_stale(locker.bus_url, reader, answered=True)
            assert reader.status is not None
            statuses.append((ticket, reader.status))
        if not polled.booted:
            await polled.boot(lambda: _boot_info(locker, [status for _, status in statuses]))
        for ticket, status in statuses:
            self._publish(locker_id, locker, status, ticket)

    def _publish(
        self, locker_id: str, locker: KerongLocker, status: frames.BoardStatus, ticket: int
    ) -> None:
        """Feed one board's status, read under `ticket`, to the locker; pass on what changed."""
        if status.quirk and (locker.bus_url, status.board) not in self._quirk_warned:
            self._quirk_warned.add((locker.bus_url, status.board))
            log.warning(
                "locker %s board %d: checksum without STX accepted (lenient mode)",
                locker_id,
                status.board,
            )
        polled = self._polled[locker_id]
        events = polled.observe(_readings(locker, status), ticket=ticket, part=status.board)
        self._events.publish(polled, events)

    def _count_stale(self, bus_url: str, reader: frames.StatusReader, *, answered: bool) -> None:
        """Count the replies `reader` dropped; log once when a bus starts dropping them and once
        when a reply comes clean again (a slow bus drops one at every poll: no log flood)."""
        now = time.monotonic()
        last_drop = self._stale_since_drop.get(bus_url)
        self.noise_bytes += reader.skipped - reader.dropped * frames.REPLY_LENGTH
        if reader.dropped:
            self.stale_replies += reader.dropped
            self._stale_since_drop[bus_url] = now
            if last_drop is None:
                log.info(
                    "bus %s: dropping replies that answer an earlier request (late replies); "
                    "counted in stale_replies, logged again when the bus is clean",
                    bus_url,
                )
        elif answered and last_drop is not None and now - last_drop > self._stale_quiet_s:
            del self._stale_since_drop[bus_url]
            log.info(
                "bus %s: replies answer their requests again (%d stale so far)",
                bus_url,
                self.stale_replies,
            )

    def drop_counts(self) -> dict[str, int]:
        """`SupportsDropCounts`: replies dropped as stale (replies) and bytes skipped as line
        noise while resynchronising (bytes, not replies: the reason says so)."""
        return {"stale-reply": self.stale_replies, "noise-bytes": self.noise_bytes}

    def _locker(self, locker_id: str) -> KerongLocker:
        locker = self._config.lockers.get(locker_id)
        if locker is None:
            raise AdapterConfigError(f"locker {locker_id!r} is not configured for kerong-cu16")
        return locker


def _reader(
    board: int, lock: int, command: frames.Command, *, lenient: bool
) -> frames.StatusReader:
    """The reader of the reply to `command` for this board and lock: it must echo their ADDR
    and carry the reply command byte of `command`."""
    return frames.StatusReader(
        board=board, lenient=lenient, address=frames.address(board, lock), command=command
    )


def _boot_info(locker: KerongLocker, statuses: list[frames.BoardStatus]) -> BootInfo:
    readings: dict[str, DoorReading] = {}
    for status in statuses:
        readings.update(_readings(locker, status))
    return BootInfo(
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
