"""The adapter contract: what every locker adapter implements and what the gateway offers it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Flag, StrEnum, auto
from types import TracebackType
from typing import ClassVar, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict

from gateway.domain.enums import DoorState, ItemSensor, SizeClass
from gateway.domain.requirements import PickupCheck
from gateway.domain.scan import ScanAnswer, ScanQuery
from gateway.sdk.events import LockerEvent, OpenOutcome, OpenPurpose


class BootStatus(StrEnum):
    """The gateway's answer to a locker's boot (OLP `BootNotification.status`)."""

    ACCEPTED = "Accepted"  # drive the locker
    PENDING = "Pending"  # not yet (a locker being provisioned): ask again later
    REJECTED = "Rejected"  # the gateway does not know this locker


class AdapterFeatures(Flag):
    """What the hardware behind an adapter can do; the gateway plans flows around these."""

    NONE = 0
    DOOR_SENSOR = auto()
    ITEM_SENSOR = auto()
    KEYPAD = auto()
    PRESENCE = auto()
    SET_AVAILABILITY = auto()
    DISPLAY = auto()
    OFFLINE_GRANTS = auto()
    EVENT_REPLAY = auto()
    PICKUP_CHECK = auto()


class AdapterConfig(BaseModel):
    """Base of every adapter's configuration model: strict, so typos are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lenient: bool = False
    """Accept known firmware quirks with a logged warning instead of refusing the message."""


@dataclass(frozen=True, slots=True)
class CompartmentInfo:
    """One compartment as the locker reports it (at boot, or in `read_status`)."""

    code: str
    size_class: SizeClass
    door: DoorState = DoorState.CLOSED
    item: ItemSensor = ItemSensor.UNKNOWN
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class BootInfo:
    """What a locker announces when it (re)connects; the adapter hands it to `authorize_boot`."""

    vendor: str
    model: str
    firmware: str
    compartments: tuple[CompartmentInfo, ...]
    features: frozenset[str] = frozenset()
    serial_number: str | None = None
    key_set_version: int | None = None  # the grant-verification key set the locker holds


@dataclass(frozen=True, slots=True)
class BootDecision:
    """The gateway's answer to a boot: drive the locker only when `status` is ACCEPTED."""

    status: BootStatus
    heartbeat_interval_s: int = 60
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LockerStatus:
    """The adapter's last knowledge of one locker: presence and per-compartment state."""

    locker_id: str
    online: bool
    booted: bool
    compartments: tuple[CompartmentInfo, ...] = ()
    firmware: str | None = None
    last_seen: datetime | None = None
    details: dict[str, str] = field(default_factory=dict)


class AdapterHost(Protocol):
    """What the gateway offers an adapter."""

    async def authorize_boot(self, locker_id: str, info: BootInfo) -> BootDecision:
        """Whether a locker that announces itself may operate (boot gating)."""
        ...

    async def is_booted(self, locker_id: str) -> bool:
        """Whether the locker's current session was accepted (by any gateway instance)."""
        ...

    def now(self) -> datetime:
        """The gateway's clock (aware UTC)."""
        ...

    async def locker_event(self, event: LockerEvent) -> None:
        """Hand one event to the gateway; returns once it is applied (or parked, never lost).

        Call it from the locker's own lane (`gateway.sdk.LockerLanes`): that keeps a locker's
        events in order, and a locker whose events are slow to apply holds up only itself.
        """
        ...

    async def scan_parcel(self, query: ScanQuery) -> ScanAnswer:
        """Query on scan: where a parcel a courier scanned at the locker goes (or why not).

        After an Accepted answer the gateway opens the compartment for the deposit itself
        (`open_compartment`, purpose deposit), once the adapter has relayed the answer.
        """
        ...


@runtime_checkable
class LockerAdapter(Protocol):
    """One class per vendor protocol. Lifecycle: `async with Adapter(config=..., host=...)`.

    Events are pushed, not pulled: the adapter hands each one to `host.locker_event` from the
    locker's own lane (`gateway.sdk.LockerLanes`), so a locker's events stay in order and a
    locker whose events are slow to apply holds up only itself.
    """

    name: ClassVar[str]
    features: ClassVar[AdapterFeatures]
    config_model: ClassVar[type[AdapterConfig]]

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def open_compartment(
        self,
        locker_id: str,
        compartment_code: str,
        *,
        purpose: OpenPurpose,
        deadline: datetime,
    ) -> OpenOutcome:
        """Unlock one door and say what physically happened. Never retried blindly by
        adapters: an unlock whose outcome is unknown raises AdapterTimeout instead."""
        ...

    async def read_status(self, locker_id: str) -> LockerStatus:
        """The locker's last known presence and per-compartment door and item state."""
        ...


@runtime_checkable
class SupportsAvailability(Protocol):
    """Adapters whose lockers take compartments out of service themselves (SET_AVAILABILITY):
    an unavailable compartment refuses what the locker decides alone (offline grants)."""

    async def set_availability(
        self,
        locker_id: str,
        compartment_code: str,
        *,
        available: bool,
        reason: str | None,
        deadline: datetime,
    ) -> None:
        """Take one compartment out of service or back; returns once the locker confirmed."""
        ...


@runtime_checkable
class SupportsDropCounts(Protocol):
    """Adapters that count what they refuse or skip of what lockers or boards send (forged or
    malformed messages, stale replies, line noise): exported on /metrics as
    `openlocker_adapter_dropped_total{adapter,reason}`, read at each scrape."""

    def drop_counts(self) -> Mapping[str, int]:
        """Counts since start by reason (a short, fixed set of kebab-case names; a count
        never goes down). Called from the scrape: cheap, no I/O."""
        ...


@runtime_checkable
class SupportsPickupCheck(Protocol):
    """Adapters whose lockers show a pickup's age/identity check on their screen with the
    opening (feature PICKUP_CHECK; OLP's OpenCompartment `pickupCheck`)."""

    async def open_with_check(
        self,
        locker_id: str,
        compartment_code: str,
        *,
        check: PickupCheck,
        deadline: datetime,
    ) -> OpenOutcome:
        """Unlock for a pickup and show `check` to the recipient, as `open_compartment` does
        otherwise (same outcomes, same errors)."""
        ...


@runtime_checkable
class SupportsDisplay(Protocol):
    """Adapters whose lockers have a screen or keypad display (feature DISPLAY)."""

    async def display(
        self, locker_id: str, message: str, deadline: datetime, *, text: str | None = None
    ) -> None:
        """Show a message (CodeRejected, LockedOut, Welcome, Info) before `deadline`; Info
        shows `text` (the gateway passes `text` only with Info; an adapter written before
        `text` existed is sent CodeRejected instead)."""
        ...
