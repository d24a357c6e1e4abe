"""ModbusAdapter: lockers driven by a generic Modbus lock controller, over Modbus TCP or RTU.

A controller cannot report by itself: each bus has one polling task that reads the door (and
item, and stuck-lock) blocks of its controllers and turns changes into events with the SDK's
`PolledLocker` (boot gating, presence, dropping reads an unlock overtook), handed to the gateway
by `BoardEvents` from one lane per locker (neither a poll nor an unlock ever waits for the
gateway). An unlock writes the lock's coil once, with the client's retries off, and then reads
the door back; when the write's reply is lost, only a door seen open proves it worked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import ClassVar, Self

from adapters.modbus.config import ModbusConfig, ModbusLocker
from adapters.modbus.link import UNREACHABLE_EXCEPTIONS, LinkClosed, ModbusLink, NoReply
from adapters.modbus.registers import fault_words, stuck_locks
from gateway.sdk import (
    AdapterConfig,
    AdapterError,
    AdapterFeatures,
    AdapterHost,
    AdapterProtocolError,
    AdapterTimeout,
    BoardEvents,
    BootInfo,
    CompartmentInfo,
    DoorReading,
    DoorState,
    ItemSensor,
    LockerNotConnected,
    LockerStatus,
    OpenLockerError,
    OpenOutcome,
    OpenPurpose,
    PolledLocker,
    PollTracker,
    TaskSet,
    poll_forever,
    seconds_left,
)

log = logging.getLogger(__name__)
# How often the door is read back while waiting for an unlocked door to swing open.
_CONFIRM_STEP_S = 0.05


@dataclass(slots=True)
class _Locker:
    """What the adapter knows about one controller, between polls."""

    locker_id: str
    config: ModbusLocker
    link: ModbusLink
    # Reads are numbered (polled.ticket()) when they start: an older result never overwrites
    # a newer one, so a poll that read the doors just before an unlock cannot report them shut.
    polled: PolledLocker
    stuck: frozenset[int] = frozenset()
    command: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def tracker(self) -> PollTracker:
        return self.polled.tracker


class ModbusAdapter:
    name: ClassVar[str] = "modbus"
    features: ClassVar[AdapterFeatures] = (
        AdapterFeatures.DOOR_SENSOR | AdapterFeatures.ITEM_SENSOR | AdapterFeatures.PRESENCE
    )
    # Declared as the SDK's base type: the Protocol's class attribute is invariant.
    config_model: ClassVar[type[AdapterConfig]] = ModbusConfig
    # One process per serial line or controller connection: with several gateway instances
    # only the holder of the bus lease runs it (gateway/service/bus_lease.py).
    bus_bound: ClassVar[bool] = True

    def __init__(self, *, config: ModbusConfig, host: AdapterHost) -> None:
        self._config = config
        self._host = host
        self._events = BoardEvents(self.name, host)
        self._links: dict[str, ModbusLink] = {}
        self._lockers: dict[str, _Locker] = {}
        for locker_id, locker in config.lockers.items():
            link = self._links.get(locker.url)
            if link is None:
                link = self._links[locker.url] = ModbusLink(
                    locker=locker, timeout_s=config.timeout_s
                )
            polled = PolledLocker(
                locker_id=locker_id,
                host=host,
                offline_after=config.offline_after,
                boot_retry_s=config.boot_retry_s,
            )
            self._lockers[locker_id] = _Locker(locker_id, locker, link, polled)
        self._stack = contextlib.AsyncExitStack()
        self._stopping = False

    # ---- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self._stack.__aenter__()
        try:
            for link in self._links.values():
                await self._stack.enter_async_context(link)
            # Left in reverse: the polls stop, then the lanes (whose handlers may still ask
            # for an unlock), then the links.
            await self._stack.enter_async_context(self._events)
            polls = await self._stack.enter_async_context(TaskSet(f"{self.name}:polls"))
            for url, link in self._links.items():
                poll = poll_forever(
                    interval_s=self._config.poll_interval_s,
                    lockers={lk.locker_id: lk for lk in self._lockers.values() if lk.link is link},
                    poll=self._poll_or_fail,
                    stopped=lambda: self._stopping,
                )
                polls.start(poll, name=f"modbus:{url}")
            self._stack.callback(self._stop)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    def _stop(self) -> None:
        # Python 3.11's wait_for (inside pymodbus) can swallow a cancellation that arrives as
        # a reply does; the flag ends the loops at their next turn even then.
        self._stopping = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.__aexit__(exc_type, exc, tb)

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
        compartment = locker.config.compartments.get(compartment_code)
        if compartment is None:
            raise AdapterProtocolError(
                f"locker {locker_id} has no compartment {compartment_code!r}",
                details={"locker": locker_id, "compartment": compartment_code},
            )
        what = f"unlock of {locker_id}/{compartment_code}"
        seconds_left(deadline, self._host.now(), what=what)
        locker.polled.require_booted(what)
        lock = compartment.lock
        try:
            async with asyncio.timeout(seconds_left(deadline, self._host.now(), what=what)):
                async with locker.command:
                    return await self._unlock(locker, compartment_code, lock, purpose)
        except TimeoutError as err:
            raise AdapterTimeout(
                f"unlock of {locker_id}/{compartment_code}: no answer before the deadline"
            ) from err

    def bad_replies(self) -> dict[str, int]:
        """Requests without a usable reply since start, by why (see ModbusLink.failures)."""
        totals: Counter[str] = Counter()
        for link in self._links.values():
            totals.update(link.failures)
        return dict(totals)

    def drop_counts(self) -> dict[str, int]:
        """`SupportsDropCounts`: the bad replies (a request's reply missing or unusable)."""
        return self.bad_replies()

    async def read_status(self, locker_id: str) -> LockerStatus:
        locker = self._locker(locker_id)
        readings = locker.tracker.readings
        compartments = []
        for code, compartment in locker.config.compartments.items():
            reading = readings.get(code)
            door = reading.door if reading else DoorState.CLOSED
            if compartment.lock in locker.stuck and door is DoorState.CLOSED:
                door = DoorState.JAMMED
            item = reading.item if reading else ItemSensor.UNKNOWN
            compartments.append(CompartmentInfo(code, compartment.size_class, door, item))
        details = {"url": locker.config.url, "unit": str(locker.config.unit)}
        if locker.tracker.last_error:
            details["lastError"] = locker.tracker.last_error
        return LockerStatus(
            locker_id=locker_id,
            online=locker.tracker.online,
            booted=locker.polled.booted,
            compartments=tuple(compartments),
            firmware=self._config.firmware,
            last_seen=locker.tracker.last_seen,
            details=details,
        )

    # ---- unlocking -----------------------------------------------------------------------

    async def _unlock(
        self, locker: _Locker, code: str, lock: int, purpose: OpenPurpose
    ) -> OpenOutcome:
        config, link = locker.config, locker.link
        log.info(
            "unlock %s/%s (unit %d lock %d) for %s",
            locker.locker_id,
            code,
            config.unit,
            lock,
            purpose,
        )
        try:
            echoed = await link.write_coil(config.unit, config.registers.coil(lock))
        except LinkClosed as err:
            raise AdapterTimeout(
                f"unlock of {locker.locker_id}/{code}: the adapter stopped before the "
                "controller answered; the outcome is unknown"
            ) from err
        except NoReply as err:
            # The pulse may or may not have fired: only a door seen open proves it did.
            log.warning("unlock %s/%s: %s; reading the door", locker.locker_id, code, err)
            if await self._door_seen_open(locker, code):
                return OpenOutcome.UNLOCKED
            raise AdapterTimeout(
                f"unlock of {locker.locker_id}/{code}: no reply, and the door is not open",
                details={"locker": locker.locker_id, "compartment": code},
            ) from err
        if not echoed:
            self._quirk_echo(locker, code)
        return await self._confirm(locker, code, lock)

    def _quirk_echo(self, locker: _Locker, code: str) -> None:
        """A write echo of 0x0000: the coil's state after its self-reset, not the value written."""
        message = f"unit {locker.config.unit} echoed 0x0000 for the unlock of {code}"
        if not self._config.lenient:
            raise AdapterProtocolError(
                f"{message} (a non-conforming echo; set lenient to accept it)",
                details={"locker": locker.locker_id, "compartment": code, "quirk": "echo"},
            )
        log.warning("locker %s: %s; accepted (lenient)", locker.locker_id, message)

    async def _confirm(self, locker: _Locker, code: str, lock: int) -> OpenOutcome:
        """After an acknowledged pulse: UNLOCKED once the door reads open, DOOR_JAMMED when
        the controller flags the lock stuck, UNLOCK_FAILED when the door simply stays shut."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self._config.confirm_s
        while True:
            try:
                readings = await self._read_doors(locker)
            except LinkClosed:
                raise
            except (NoReply, AdapterError) as err:
                if loop.time() >= until:
                    raise AdapterTimeout(
                        f"unlock of {locker.locker_id}/{code} sent; the door cannot be read"
                    ) from err
                await asyncio.sleep(_CONFIRM_STEP_S)
                continue
            if not readings[code].door_closed:
                return OpenOutcome.UNLOCKED
            if lock in await self._read_stuck(locker):
                log.warning("locker %s: lock %d stuck", locker.locker_id, lock)
                return OpenOutcome.DOOR_JAMMED
            if loop.time() >= until:
                return OpenOutcome.UNLOCK_FAILED
            await asyncio.sleep(_CONFIRM_STEP_S)

    async def _door_seen_open(self, locker: _Locker, code: str) -> bool:
        """Read the door until it reads open or `confirm_s` ran out; False if never open."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self._config.confirm_s
        while loop.time() < until:
            try:
                readings = await self._read_doors(locker)
            except LinkClosed:
                raise
            except (NoReply, AdapterError):
                await asyncio.sleep(_CONFIRM_STEP_S)
                continue
            if not readings[code].door_closed:
                return True
            await asyncio.sleep(_CONFIRM_STEP_S)
        return False

    async def _read_doors(self, locker: _Locker) -> dict[str, DoorReading]:
        """Read the door block now and feed it to the tracker, so DoorOpened goes out at once
        (unless a newer read got there first); returns what this read saw, which is what an
        unlock's outcome goes by (the tracker may hold a change back for the next poll)."""
        ticket = locker.polled.ticket()
        config = locker.config
        doors = await locker.link.read_inputs(
            config.unit, config.registers.door_base, config.lock_count
        )
        known = locker.tracker.readings
        readings = {
            code: DoorReading(
                door_closed=doors[c.lock - 1],
                item=known[code].item if code in known else ItemSensor.UNKNOWN,
            )
            for code, c in config.compartments.items()
        }
        self._events.publish(locker.polled, locker.polled.observe(readings, ticket=ticket))
        return readings

    async def _read_stuck(self, locker: _Locker) -> frozenset[int]:
        base = locker.config.registers.fault_base
        if base is None:
            return frozenset()
        count = locker.config.lock_count
        try:
            words = await locker.link.read_registers(locker.config.unit, base, fault_words(count))
        except (NoReply, AdapterError):
            return locker.stuck
        locker.stuck = stuck_locks(words, count)
        return locker.stuck

    # ---- polling -------------------------------------------------------------------------

    async def _poll_or_fail(self, locker: _Locker) -> None:
        try:
            await self._poll(locker)
        except LinkClosed:
            self._stopping = True
        except OpenLockerError as err:
            if _answered(err):
                # The controller is there and said no (busy, bad address): a problem to
                # report, not an outage.
                log.warning("poll of locker %s refused: %s", locker.locker_id, err)
                locker.tracker.last_error = err.description
                return
            self._events.publish(locker.polled, locker.polled.failed(err.description))

    async def _poll(self, locker: _Locker) -> None:
        config, link = locker.config, locker.link
        ticket = locker.polled.ticket()
        count = config.lock_count
        doors = await link.read_inputs(config.unit, config.registers.door_base, count)
        items: list[bool] | None = None
        if config.registers.item_base is not None:
            items = await link.read_inputs(config.unit, config.registers.item_base, count)
        await self._read_stuck(locker)
        readings = {
            code: DoorReading(
                door_closed=doors[c.lock - 1],
                item=_item(items[c.lock - 1]) if items is not None else ItemSensor.UNKNOWN,
            )
            for code, c in config.compartments.items()
        }
        if not await locker.polled.boot(lambda: self._boot_info(locker)):
            return
        self._events.publish(locker.polled, locker.polled.observe(readings, ticket=ticket))

    def _boot_info(self, locker: _Locker) -> BootInfo:
        return BootInfo(
            vendor=self._config.vendor,
            model=self._config.model,
            firmware=self._config.firmware,
            serial_number=f"{locker.config.url}#{locker.config.unit}",
            compartments=tuple(
                CompartmentInfo(code, c.size_class)
                for code, c in locker.config.compartments.items()
            ),
        )

    # ---- helpers -------------------------------------------------------------------------

    def _locker(self, locker_id: str) -> _Locker:
        locker = self._lockers.get(locker_id)
        if locker is None:
            raise LockerNotConnected(
                f"locker {locker_id} is not configured in the modbus adapter",
                details={"locker": locker_id},
            )
        return locker


def _answered(err: OpenLockerError) -> bool:
    """Whether the error is the controller's own exception response (not a gateway's 0A/0B,
    which say the controller behind it did not answer)."""
    code = err.details.get("modbusException")
    return code is not None and code not in UNREACHABLE_EXCEPTIONS


def _item(present: bool) -> ItemSensor:
    return ItemSensor.PRESENT if present else ItemSensor.ABSENT
