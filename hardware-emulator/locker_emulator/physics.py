"""Pure model of one compartment (door, lock, item, sensor, faults); actions return events."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum


class DoorState(StrEnum):
    """What the door physically does; the wire values of OLP's DoorState."""

    CLOSED = "closed"
    OPEN = "open"
    JAMMED = "jammed"


class ItemSensor(StrEnum):
    """What the item sensor reports (not necessarily the truth)."""

    PRESENT = "present"
    ABSENT = "absent"
    UNKNOWN = "unknown"


class UnlockOutcome(StrEnum):
    """Business outcome of an unlock attempt, as carried in the OpenCompartment result."""

    UNLOCKED = "Unlocked"
    UNLOCK_FAILED = "UnlockFailed"
    DOOR_JAMMED = "DoorJammed"
    ALREADY_OPEN = "AlreadyOpen"


class FaultKind(StrEnum):
    """Fault names of the OLP Fault event."""

    DOOR_JAMMED = "DoorJammed"
    DOOR_LEFT_OPEN = "DoorLeftOpen"
    SENSOR_FAULT = "SensorFault"
    LOCK_FAULT = "LockFault"
    POWER_LOSS = "PowerLoss"
    TEMPERATURE_OUT_OF_RANGE = "TemperatureOutOfRange"


# What a compartment of each temperature class must stay within, in degrees Celsius (SPEC.md
# "Delivery requirements"); ambient compartments have no thermometer and never alarm. A cold
# compartment starts at its set point.
TEMPERATURE_RANGES: dict[str, tuple[float, float]] = {
    "chilled": (2.0, 8.0),
    "frozen": (-30.0, -15.0),
}
SET_POINTS: dict[str, float] = {"chilled": 5.0, "frozen": -20.0}


class PhysicsError(Exception):
    """An actor tried something the hardware does not allow, e.g. a deposit behind a closed door."""


@dataclass(frozen=True, slots=True)
class CompartmentFaults:
    """Injected hardware faults of one compartment."""

    jammed: bool = False
    stuck_lock: bool = False
    lying_sensor: bool = False
    # Seconds the door may stay open before the DoorLeftOpen alarm; None: never alarm.
    door_left_open: float | None = None


@dataclass(frozen=True, slots=True)
class DoorOpened:
    """The door swung open after an unlock."""

    compartment_code: str


@dataclass(frozen=True, slots=True)
class DoorClosed:
    """The door was shut; carries what the sensor reported at that moment."""

    compartment_code: str
    item_sensor: ItemSensor


@dataclass(frozen=True, slots=True)
class FaultRaised:
    """A hardware fault appeared, or (cleared=True) went away."""

    compartment_code: str | None
    fault: FaultKind
    description: str
    cleared: bool = False
    temperature_c: float | None = None  # TemperatureOutOfRange: the reading


Event = DoorOpened | DoorClosed | FaultRaised


@dataclass(frozen=True, slots=True)
class Compartment:
    """One compartment at one instant; immutable, every action returns a new one."""

    code: str
    size_class: str
    has_sensor: bool = True
    door: DoorState = DoorState.CLOSED
    item_inside: bool = False
    enabled: bool = True
    faults: CompartmentFaults = field(default_factory=CompartmentFaults)
    # Monotonic time the door opened, for the DoorLeftOpen alarm.
    opened_at: float | None = None
    # Faults reported and not yet reported cleared, so that clearing is reported exactly once.
    raised: frozenset[FaultKind] = frozenset()
    # Delivery requirements: the class the compartment keeps, and its thermometer's reading
    # (None: an ambient compartment without one).
    temperature_class: str = "ambient"
    celsius: float | None = None

    @property
    def item_sensor(self) -> ItemSensor:
        """The sensor's reading: the truth, its opposite when lying, unknown without a sensor."""
        if not self.has_sensor:
            return ItemSensor.UNKNOWN
        present = self.item_inside != self.faults.lying_sensor
        return ItemSensor.PRESENT if present else ItemSensor.ABSENT


@dataclass(frozen=True, slots=True)
class Transition:
    """The compartment after an action, the events to emit, and the unlock outcome if any."""

    compartment: Compartment
    events: tuple[Event, ...] = ()
    outcome: UnlockOutcome | None = None


def unlock(comp: Compartment, *, now: float) -> Transition:
    """Release the lock: the door opens unless the lock sticks or the door jams."""
    if comp.door is DoorState.OPEN:
        return Transition(comp, outcome=UnlockOutcome.ALREADY_OPEN)
    if comp.faults.stuck_lock:
        fault = FaultRaised(comp.code, FaultKind.LOCK_FAULT, "the lock did not release")
        after = replace(comp, raised=comp.raised | {FaultKind.LOCK_FAULT})
        return Transition(after, (fault,), UnlockOutcome.UNLOCK_FAILED)
    if comp.faults.jammed:
        fault = FaultRaised(
            comp.code, FaultKind.DOOR_JAMMED, "the lock released but the door is stuck"
        )
        after = replace(comp, door=DoorState.JAMMED, raised=comp.raised | {FaultKind.DOOR_JAMMED})
        return Transition(after, (fault,), UnlockOutcome.DOOR_JAMMED)
    if comp.door is DoorState.JAMMED:
        # The jam fault was lifted but nobody shut the door properly yet: it springs open now.
        comp = replace(comp, door=DoorState.CLOSED)
    after = replace(comp, door=DoorState.OPEN, opened_at=now)
    return Transition(after, (DoorOpened(comp.code),), UnlockOutcome.UNLOCKED)


def _require_open(comp: Compartment, action: str) -> None:
    if comp.door is not DoorState.OPEN:
        raise PhysicsError(f"cannot {action} compartment {comp.code}: its door is {comp.door}")


def _shut(comp: Compartment) -> Transition:
    closed = replace(comp, door=DoorState.CLOSED, opened_at=None)
    events: list[Event] = [DoorClosed(comp.code, closed.item_sensor)]
    if FaultKind.DOOR_LEFT_OPEN in comp.raised:
        events.append(
            FaultRaised(comp.code, FaultKind.DOOR_LEFT_OPEN, "the door is shut again", cleared=True)
        )
        closed = replace(closed, raised=closed.raised - {FaultKind.DOOR_LEFT_OPEN})
    return Transition(closed, tuple(events))


def deposit(comp: Compartment) -> Transition:
    """Put an item through the open door, then shut it."""
    _require_open(comp, "deposit into")
    if comp.item_inside:
        raise PhysicsError(f"compartment {comp.code} already holds an item")
    return _shut(replace(comp, item_inside=True))


def take(comp: Compartment) -> Transition:
    """Take the item out of the open compartment, then shut the door."""
    _require_open(comp, "take from")
    if not comp.item_inside:
        raise PhysicsError(f"compartment {comp.code} is empty: nothing to take")
    return _shut(replace(comp, item_inside=False))


def close(comp: Compartment) -> Transition:
    """Shut the open door without touching what is inside."""
    _require_open(comp, "close")
    return _shut(comp)


def leave_open(comp: Compartment) -> Transition:
    """Walk away from the open door: nothing changes now, the DoorLeftOpen alarm may follow."""
    _require_open(comp, "leave open")
    return Transition(comp)


def may_raise_door_left_open(comp: Compartment) -> bool:
    """Whether `tick` could still raise DoorLeftOpen for this compartment."""
    return (
        comp.faults.door_left_open is not None
        and comp.door is DoorState.OPEN
        and comp.opened_at is not None
        and FaultKind.DOOR_LEFT_OPEN not in comp.raised
    )


def tick(comp: Compartment, *, now: float) -> Transition:
    """Let time pass: raise DoorLeftOpen once when the door stays open too long."""
    limit = comp.faults.door_left_open
    if (
        limit is None
        or comp.door is not DoorState.OPEN
        or comp.opened_at is None
        or FaultKind.DOOR_LEFT_OPEN in comp.raised
        or now - comp.opened_at < limit
    ):
        return Transition(comp)
    fault = FaultRaised(
        comp.code, FaultKind.DOOR_LEFT_OPEN, f"the door has been open for more than {limit:g} s"
    )
    return Transition(replace(comp, raised=comp.raised | {FaultKind.DOOR_LEFT_OPEN}), (fault,))


def set_faults(comp: Compartment, faults: CompartmentFaults) -> Transition:
    """Change the injected faults; a lifted jam or stuck lock is reported cleared."""
    after = replace(comp, faults=faults)
    events: list[Event] = []
    if not faults.jammed and FaultKind.DOOR_JAMMED in comp.raised:
        door = DoorState.CLOSED if comp.door is DoorState.JAMMED else comp.door
        after = replace(after, door=door, raised=after.raised - {FaultKind.DOOR_JAMMED})
        events.append(
            FaultRaised(
                comp.code, FaultKind.DOOR_JAMMED, "the door moves freely again", cleared=True
            )
        )
    if not faults.stuck_lock and FaultKind.LOCK_FAULT in comp.raised:
        after = replace(after, raised=after.raised - {FaultKind.LOCK_FAULT})
        events.append(
            FaultRaised(comp.code, FaultKind.LOCK_FAULT, "the lock works again", cleared=True)
        )
    return Transition(after, tuple(events))


def set_enabled(comp: Compartment, enabled: bool) -> Transition:
    """Take the compartment in or out of service (SetAvailability); no hardware event."""
    return Transition(replace(comp, enabled=enabled))


def read_temperature(comp: Compartment, celsius: float) -> Transition:
    """The thermometer reads `celsius`: TemperatureOutOfRange is raised when the reading leaves
    the class's range and reported cleared, once, when it is back."""
    bounds = TEMPERATURE_RANGES.get(comp.temperature_class)
    if bounds is None:
        raise PhysicsError(f"compartment {comp.code} is ambient: it has no thermometer")
    low, high = bounds
    after = replace(comp, celsius=celsius)
    kind = FaultKind.TEMPERATURE_OUT_OF_RANGE
    inside = low <= celsius <= high
    if not inside and kind not in comp.raised:
        fault = FaultRaised(
            comp.code,
            kind,
            f"{celsius:g} \u00b0C is outside {comp.temperature_class} {low:g}..{high:g} \u00b0C",
            temperature_c=celsius,
        )
        return Transition(replace(after, raised=after.raised | {kind}), (fault,))
    if inside and kind in comp.raised:
        fault = FaultRaised(
            comp.code,
            kind,
            f"{celsius:g} \u00b0C is back within {low:g}..{high:g} \u00b0C",
            cleared=True,
            temperature_c=celsius,
        )
        return Transition(replace(after, raised=after.raised - {kind}), (fault,))
    return Transition(after)
