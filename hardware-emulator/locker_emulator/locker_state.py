"""Everything one emulated locker knows, without I/O: compartments, faults, outbox, message log."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from locker_emulator import physics
from locker_emulator.faults import LockerFaults, compartment_faults_json, locker_faults_json
from locker_emulator.fleet import LockerCounters
from locker_emulator.grants import GrantVault
from locker_emulator.journal import EventJournal
from locker_emulator.layout import LockerConfig
from locker_emulator.messages import (
    Kind,
    Topics,
    check_keypad_code,
    check_label,
    envelope,
    format_ts,
)
from locker_emulator.physics import Compartment, CompartmentFaults, Event
from locker_emulator.root_trust import RootKey

# A real controller's flash holds a bounded event buffer; past it the oldest events are lost.
OUTBOX_LIMIT = 10_000
LOG_LIMIT = 500


class UnknownCompartment(KeyError):
    """The locker has no compartment with this code."""

    def __str__(self) -> str:
        return f"no compartment {self.args[0]!r} in this locker"


@dataclass(slots=True)
class Outgoing:
    """One message waiting in the outbox; `seq` is stamped when it first goes on the wire."""

    topic: str
    body: dict[str, Any]
    retain: bool = False
    # A State snapshot: an older unsent one is replaced by a newer one.
    snapshot: bool = False


class Outbox:
    """Ordered buffer of events and State snapshots, published once the gateway accepted Boot."""

    def __init__(self, *, limit: int = OUTBOX_LIMIT) -> None:
        self._items: deque[Outgoing] = deque()
        self._limit = limit
        self._wakeup = asyncio.Event()
        self.dropped = 0

    def put(self, item: Outgoing) -> None:
        """Append; the head may be in flight, so it is never replaced or evicted."""
        if item.snapshot:
            keep = [i for n, i in enumerate(self._items) if n == 0 or not i.snapshot]
            self._items = deque(keep)
        if len(self._items) >= self._limit and len(self._items) > 1:
            del self._items[1]
            self.dropped += 1
        self._items.append(item)
        self._wakeup.set()

    def head(self) -> Outgoing | None:
        """The oldest message, left in place until it was delivered."""
        return self._items[0] if self._items else None

    def pop_head(self) -> None:
        """Forget the oldest message: the broker acknowledged it."""
        self._items.popleft()

    async def wait(self) -> None:
        """Until something is queued."""
        while not self._items:
            self._wakeup.clear()
            await self._wakeup.wait()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Outgoing]:
        return iter(list(self._items))


def event_payload(event: Event) -> tuple[str, dict[str, Any]]:
    """The OLP action and payload of one physics event."""
    if isinstance(event, physics.DoorOpened):
        return "DoorOpened", {"compartmentCode": event.compartment_code}
    if isinstance(event, physics.DoorClosed):
        return "DoorClosed", {
            "compartmentCode": event.compartment_code,
            "itemSensor": str(event.item_sensor),
        }
    payload: dict[str, Any] = {"fault": str(event.fault), "description": event.description}
    if event.compartment_code is not None:
        payload["compartmentCode"] = event.compartment_code
    if event.cleared:
        payload["cleared"] = True
    if event.temperature_c is not None:
        payload["temperatureC"] = event.temperature_c
    return "Fault", payload


class LockerModel:
    """The locker's memory: what a real controller would keep in RAM and flash."""

    def __init__(
        self,
        config: LockerConfig,
        *,
        faults: LockerFaults,
        compartment_faults: Mapping[str, CompartmentFaults],
    ) -> None:
        unknown = sorted(set(compartment_faults) - {c.code for c in config.compartments})
        if unknown:
            raise UnknownCompartment(unknown[0])
        self.config = config
        self.topics = Topics(config.locker_id)
        self.faults = faults
        self.compartments: dict[str, Compartment] = {
            c.code: Compartment(
                code=c.code,
                size_class=c.size_class,
                has_sensor=c.has_sensor,
                faults=compartment_faults.get(c.code, CompartmentFaults()),
                temperature_class=c.temperature_class,
                celsius=physics.SET_POINTS.get(c.temperature_class),
            )
            for c in config.compartments
        }
        self.purposes: dict[str, str] = {}
        # The key set and the used grant ids: in flash, so they outlive reconnects and power loss.
        self.grants = GrantVault()
        # The network root key pinned at provisioning (moved only by an endorsed rotation):
        # a SetKeySet it did not sign is refused. In flash too.
        self.root_key: RootKey | None = None
        # Lock releases the hardware really performed, per compartment (what test rigs count).
        self.unlocks: dict[str, int] = {}
        # Replies still to be swallowed: the command is acted on, its answer is lost on the way.
        self.lose_replies = 0
        # Only replies to this action are swallowed (None: any command's).
        self.lose_replies_to: str | None = None
        # Every event numbered and kept for replays (SPEC §9 "Event order"), in flash too.
        self.journal = EventJournal()
        # Events still to be lost on the wire: the locker believes them sent, nobody gets them.
        self.lose_events = 0
        # Commands (by action) still to be lost on the way in: never acted on, never answered.
        self.lose_commands: dict[str, int] = {}
        self.outbox = Outbox()
        self.log: deque[dict[str, Any]] = deque(maxlen=LOG_LIMIT)
        self.display: dict[str, Any] | None = None
        self.online = False
        self.boot_status: str | None = None
        self.rejected_reason: str | None = None
        self.session_id: str | None = None
        self.offline_until: datetime | None = None
        self.invalid_outgoing = 0
        self.counters = LockerCounters()
        # Told of every change (the locker arms its door timer from here).
        self.on_change: Callable[[], None] | None = None
        self._changed = asyncio.Event()

    @property
    def locker_id(self) -> str:
        return self.config.locker_id

    def now(self) -> datetime:
        """The locker's own clock: true UTC plus the injected skew."""
        return datetime.now(UTC) + timedelta(seconds=self.faults.clock_skew)

    def touch(self) -> None:
        """Wake everyone waiting for a change."""
        self._changed.set()
        self._changed = asyncio.Event()
        if self.on_change is not None:
            self.on_change()

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Until `predicate()` holds after some change; bound it with `asyncio.timeout`."""
        while not predicate():
            await self._changed.wait()

    def compartment(self, code: str) -> Compartment:
        """One compartment; UnknownCompartment if there is none with this code."""
        try:
            return self.compartments[code]
        except KeyError:
            raise UnknownCompartment(code) from None

    def apply(self, transition: physics.Transition) -> None:
        """Store a physics transition, queue its events and a fresh State."""
        self.compartments[transition.compartment.code] = transition.compartment
        self.emit(transition.events)

    def emit(self, events: Iterable[Event]) -> None:
        """Queue hardware events in order, then a fresh State."""
        for event in events:
            action, payload = event_payload(event)
            self.queue_event(action, payload)
        self.queue_state()

    def queue_event(self, action: str, payload: dict[str, Any]) -> None:
        """Buffer one event, stamped now: its `ts` is when it happened, not when it is sent."""
        now = self.now()
        body = envelope(kind=Kind.EVENT, action=action, src=self.locker_id, ts=now, payload=payload)
        self.journal.record(self.topics.evt(action), body, now)
        self.outbox.put(Outgoing(self.topics.evt(action), body))
        self.touch()

    def queue_state(self) -> None:
        """Buffer a retained State snapshot (replacing an older unsent one)."""
        body = envelope(
            kind=Kind.EVENT,
            action="State",
            src=self.locker_id,
            ts=self.now(),
            payload=self.state_payload(),
        )
        self.outbox.put(Outgoing(self.topics.state, body, retain=True, snapshot=True))
        self.touch()

    def actuate(self, code: str, action: Callable[[Compartment], physics.Transition]) -> None:
        """A person at the door: deposit, take, close, leave open."""
        self.apply(action(self.compartment(code)))

    def enter_code(
        self, code: str, compartment_code: str | None = None, label: str | None = None
    ) -> None:
        """Someone typed a code on the keypad (and the scanner read a parcel label with a
        return's drop-off code): report CodeEntered."""
        payload: dict[str, Any] = {"code": check_keypad_code(code)}
        if compartment_code is not None:
            self.compartment(compartment_code)
            payload["compartmentCode"] = compartment_code
        if label is not None:
            payload["label"] = check_label(label)
        self.queue_event("CodeEntered", payload)

    def needs_tick(self) -> bool:
        """Whether letting time pass could change anything (a door that may be left open)."""
        return any(physics.may_raise_door_left_open(c) for c in self.compartments.values())

    def tick(self, now: float) -> None:
        """Let time pass for every compartment (the DoorLeftOpen alarm)."""
        for comp in list(self.compartments.values()):
            transition = physics.tick(comp, now=now)
            if transition.events:
                self.apply(transition)

    def record(self, direction: str, topic: str, message: object, note: str | None = None) -> None:
        """Keep one line of the bounded message log shown by the control API."""
        entry: dict[str, Any] = {"at": format_ts(datetime.now(UTC)), "direction": direction}
        entry["topic"] = topic
        if isinstance(message, dict):
            entry["envelope"] = message
        elif message is not None:
            entry["raw"] = str(message)[:2000]
        if note:
            entry["note"] = note
        self.log.append(entry)
        self.touch()

    def boot_payload(self) -> dict[str, Any]:
        """What the locker says about itself at Boot."""
        config = self.config
        compartments: list[dict[str, Any]] = []
        for c in config.compartments:
            item: dict[str, Any] = {"code": c.code, "sizeClass": c.size_class}
            if c.inside_mm is not None:
                width, height, depth = c.inside_mm
                item["insideMm"] = {"width": width, "height": height, "depth": depth}
            compartments.append(item)
        payload: dict[str, Any] = {
            "vendor": config.vendor,
            "model": config.model,
            "firmware": config.firmware,
            "features": list(config.features),
            "compartments": compartments,
        }
        if config.serial_number is not None:
            payload["serialNumber"] = config.serial_number
        if self.grants.version is not None:
            payload["keySetVersion"] = self.grants.version
        payload["lastEventSeq"] = self.journal.sent_seq
        return payload

    def state_payload(self) -> dict[str, Any]:
        """The retained State: door and sensor as reported (a lying sensor lies here too), and
        the thermometer of each cold compartment (temperature telemetry)."""
        compartments: list[dict[str, Any]] = []
        for c in self.compartments.values():
            item: dict[str, Any] = {
                "code": c.code,
                "sizeClass": c.size_class,
                "door": str(c.door),
                "itemSensor": str(c.item_sensor),
                "enabled": c.enabled,
            }
            if c.celsius is not None:
                item["temperatureC"] = c.celsius
            compartments.append(item)
        return {
            "firmware": self.config.firmware,
            "keySetVersion": self.grants.version,
            "compartments": compartments,
        }

    def compartment_json(self, comp: Compartment) -> dict[str, Any]:
        """One compartment for the control API: the truth next to what the sensor says (and
        the thermometer's reading of a chilled or frozen one)."""
        body: dict[str, Any] = {
            "code": comp.code,
            "sizeClass": comp.size_class,
            "door": str(comp.door),
            "itemInside": comp.item_inside,
            "itemSensor": str(comp.item_sensor),
            "enabled": comp.enabled,
            "lastPurpose": self.purposes.get(comp.code),
            "activeFaults": sorted(str(f) for f in comp.raised),
            "faults": compartment_faults_json(comp.faults),
        }
        if comp.celsius is not None:
            body |= {"temperatureClass": comp.temperature_class, "temperatureC": comp.celsius}
        return body

    def snapshot(self) -> dict[str, Any]:
        """The whole locker for the control API."""
        return {
            "id": self.locker_id,
            "online": self.online,
            "booted": self.boot_status == "Accepted",
            "bootStatus": self.boot_status,
            "rejectedReason": self.rejected_reason,
            "sessionId": self.session_id,
            "offlineUntil": format_ts(self.offline_until) if self.offline_until else None,
            "faults": locker_faults_json(self.faults),
            "display": self.display,
            "keySetVersion": self.grants.version,
            "journal": self.journal.json(),
            "outbox": len(self.outbox),
            "outboxDropped": self.outbox.dropped,
            "invalidOutgoing": self.invalid_outgoing,
            "compartments": [self.compartment_json(c) for c in self.compartments.values()],
        }

    def summary(self) -> dict[str, Any]:
        """One line per locker for GET /lockers."""
        return {
            "id": self.locker_id,
            "online": self.online,
            "booted": self.boot_status == "Accepted",
            "bootStatus": self.boot_status,
            "compartments": len(self.compartments),
            "openDoors": sorted(
                c.code for c in self.compartments.values() if c.door is physics.DoorState.OPEN
            ),
        }


def monotonic() -> float:
    """Monotonic seconds for door timers (immune to wall-clock and skew changes)."""
    return time.monotonic()
