"""One adapter under test: entered, ready, events collected, every call checked for SDK errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from gateway.sdk.adapter import AdapterFeatures, LockerAdapter, LockerStatus
from gateway.sdk.errors import OpenLockerError
from gateway.sdk.events import OpenOutcome, OpenPurpose
from gateway.sdk.testing.collector import EventCollector
from gateway.sdk.testing.host import RecordingHost
from gateway.sdk.testing.rig import AdapterRig

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class KitTiming:
    """How long the kit waits; `--openlocker-timeout-scale` multiplies every value."""

    ready_s: float = 20.0  # rig.wait_ready, and coming back after reconnect()
    event_s: float = 10.0  # an event the hardware caused
    deadline_s: float = 5.0  # the deadline given to ordinary opens
    lost_reply_deadline_s: float = 3.0  # the deadline of an open whose reply is lost
    grace_s: float = 3.0  # how far past its deadline an adapter call may return
    quiet_s: float = 1.0  # how long to watch for something that must not happen

    def scaled(self, factor: float) -> KitTiming:
        return KitTiming(*(getattr(self, name) * factor for name in self.__slots__))


class ForeignException(AssertionError):
    """An adapter call raised something other than an OpenLockerError."""


@dataclass(slots=True)
class Conformance:
    """What each contract test works with."""

    rig: AdapterRig
    host: RecordingHost
    adapter: LockerAdapter
    events: EventCollector
    timing: KitTiming

    @property
    def locker_id(self) -> str:
        return self.rig.locker_id

    def has(self, feature: AdapterFeatures) -> bool:
        return feature in self.rig.features

    def deadline(self, seconds: float | None = None) -> datetime:
        return self.host.now() + timedelta(seconds=seconds or self.timing.deadline_s)

    async def open(
        self,
        code: str,
        *,
        deadline: datetime | None = None,
        locker_id: str | None = None,
        purpose: OpenPurpose = OpenPurpose.DEPOSIT,
    ) -> OpenOutcome:
        """`open_compartment`, bounded by its deadline plus grace; only SDK errors escape."""
        deadline = deadline or self.deadline()
        limit = max((deadline - self.host.now()).total_seconds(), 0.0) + self.timing.grace_s
        outcome = await sdk_call(
            f"open_compartment({code!r})",
            lambda: self.adapter.open_compartment(
                locker_id or self.locker_id, code, purpose=purpose, deadline=deadline
            ),
            limit,
        )
        if not isinstance(outcome, OpenOutcome):
            raise AssertionError(
                f"open_compartment must return an OpenOutcome, not {type(outcome).__name__} "
                f"{outcome!r}"
            )
        return outcome

    async def status(self) -> LockerStatus:
        status = await sdk_call(
            "read_status", lambda: self.adapter.read_status(self.locker_id), self.timing.grace_s
        )
        if status.locker_id != self.locker_id:
            raise AssertionError(
                f"read_status({self.locker_id!r}) answered for locker {status.locker_id!r}"
            )
        return status

    async def eventually(
        self, what: str, probe: Callable[[], Awaitable[bool]], within: float | None = None
    ) -> None:
        """Poll `probe` until it holds (the hardware acts asynchronously); fail with `what`."""
        loop = asyncio.get_running_loop()
        limit = within or self.timing.event_s
        until = loop.time() + limit
        while not await probe():
            if loop.time() > until:
                raise AssertionError(f"{what} did not happen within {limit:g} s")
            await asyncio.sleep(0.05)


async def sdk_call(what: str, call: Callable[[], Awaitable[T]], limit_s: float) -> T:
    """Await one adapter call: fail the test when it overruns or raises a foreign exception."""
    try:
        async with asyncio.timeout(limit_s) as scope:
            return await call()
    except OpenLockerError:
        raise
    except TimeoutError as err:
        if scope.expired():
            raise AssertionError(
                f"{what} did not return within {limit_s:g} s: an adapter must answer by its "
                "deadline (raise AdapterTimeout when the locker is silent)"
            ) from err
        raise ForeignException(_foreign(what, err)) from err
    except Exception as err:
        raise ForeignException(_foreign(what, err)) from err


def _foreign(what: str, err: BaseException) -> str:
    return (
        f"{what} raised {type(err).__module__}.{type(err).__name__}: {err}; adapters raise only "
        "OpenLockerError subclasses from gateway.sdk.errors (translate with `raise ... from err`)"
    )


@asynccontextmanager
async def open_conformance(
    rig: AdapterRig, host: RecordingHost, *, scale: float = 1.0
) -> AsyncIterator[Conformance]:
    """Make the rig's adapter, enter it, collect the events it hands to `host`, wait until
    it is ready."""
    if not isinstance(rig, AdapterRig):
        raise TypeError(f"the `rig` fixture must implement AdapterRig, not {type(rig).__name__}")
    timing = KitTiming().scaled(scale)
    adapter = rig.make_adapter(host)
    events = EventCollector(host)
    async with adapter:
        try:
            async with asyncio.timeout(timing.ready_s):
                await rig.wait_ready(adapter)
        except TimeoutError as err:
            raise AssertionError(
                f"the adapter was not ready within {timing.ready_s:g} s (rig.wait_ready); "
                f"events so far: {events.describe()}"
            ) from err
        yield Conformance(rig=rig, host=host, adapter=adapter, events=events, timing=timing)
