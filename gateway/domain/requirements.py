"""Delivery requirements: an accessible door, a temperature class, a check at pickup.

A parcel may need a compartment within a reach range (accessible), one of a temperature class
(ambient, chilled, frozen), or an age/identity check when it is picked up. The first two choose
the compartment; the third travels with the parcel to the locker (grant claims, OpenCompartment)
so the locker's screen tells the recipient to show an id, and the staff or kiosk checks it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class TemperatureClass(StrEnum):
    """What a compartment keeps its contents at (SPEC.md: delivery requirements)."""

    AMBIENT = "ambient"
    CHILLED = "chilled"
    FROZEN = "frozen"


@dataclass(frozen=True, slots=True)
class TemperatureRange:
    """Degrees Celsius a compartment of a class must stay within, both ends included."""

    low_c: float
    high_c: float

    def holds(self, reading_c: float) -> bool:
        return self.low_c <= reading_c <= self.high_c


@dataclass(frozen=True, slots=True)
class TemperatureSample:
    """One reading a locker reported of a compartment."""

    celsius: float
    at: datetime


# The published ranges (SPEC.md "Temperature classes"). Ambient compartments have no range:
# they need no sensor and never raise a temperature alarm. Frozen food must stay at -18 °C or
# below; brief excursions up to -15 °C are tolerated (EU Directive 89/108/EEC), so -15 alarms.
TEMPERATURE_RANGES: dict[TemperatureClass, TemperatureRange] = {
    TemperatureClass.CHILLED: TemperatureRange(2.0, 8.0),
    TemperatureClass.FROZEN: TemperatureRange(-30.0, -15.0),
}

# Ages a pickup check may ask for: the legal limits for alcohol, tobacco and medicines.
MIN_CHECK_AGE = 16
MAX_CHECK_AGE = 21


@dataclass(frozen=True, slots=True)
class HeightRange:
    """A reach range in millimetres above the ground, both ends included."""

    min_mm: int
    max_mm: int

    def __post_init__(self) -> None:
        if not 0 <= self.min_mm < self.max_mm:
            raise ValueError("a height range needs 0 <= min < max millimetres")

    def contains(self, floor_mm: int | None, inside_height_mm: int) -> bool:
        """Whether a compartment whose floor is `floor_mm` above the ground lies wholly within
        the range: its floor no lower than `min_mm` and its top no higher than `max_mm`. A
        compartment whose position was never declared is never accessible."""
        if floor_mm is None:
            return False
        return floor_mm >= self.min_mm and floor_mm + inside_height_mm <= self.max_mm


@dataclass(frozen=True, slots=True)
class PickupCheck:
    """The recipient must prove an age, their identity, or both before the door opens."""

    minimum_age: int | None = None
    identity: bool = False

    def __post_init__(self) -> None:
        if self.minimum_age is None and not self.identity:
            raise ValueError("a pickup check needs minimumAge or identity")
        if self.minimum_age is not None and not (
            MIN_CHECK_AGE <= self.minimum_age <= MAX_CHECK_AGE
        ):
            raise ValueError(f"minimumAge must be {MIN_CHECK_AGE}..{MAX_CHECK_AGE}")

    def to_json(self) -> dict[str, Any]:
        """The wire form (PickupCheck in delivery-requirements.json); members only when set."""
        out: dict[str, Any] = {}
        if self.minimum_age is not None:
            out["minimumAge"] = self.minimum_age
        if self.identity:
            out["identity"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PickupCheck:
        return cls(minimum_age=data.get("minimumAge"), identity=bool(data.get("identity")))


@dataclass(frozen=True, slots=True)
class CompartmentTraits:
    """What a compartment offers besides its size: its class, position and alarm state."""

    temperature: TemperatureClass = TemperatureClass.AMBIENT
    floor_mm: int | None = None
    inside_height_mm: int = 0
    temperature_alarm: bool = False


@dataclass(frozen=True, slots=True)
class Unmet:
    """One requirement no compartment of a locker meets: a JSON pointer and why."""

    pointer: str
    reason: str


@dataclass(frozen=True, slots=True)
class DeliveryRequirements:
    """What a parcel needs besides room: an accessible door, a temperature, a pickup check."""

    accessible: HeightRange | None = None
    temperature: TemperatureClass | None = None
    pickup_check: PickupCheck | None = None

    @property
    def temperature_class(self) -> TemperatureClass:
        """The class the compartment must have: ambient unless the parcel asks otherwise.
        A parcel that asks for nothing must not take a scarce chilled or frozen door."""
        return self.temperature or TemperatureClass.AMBIENT

    @property
    def empty(self) -> bool:
        return self.accessible is None and self.temperature is None and self.pickup_check is None

    def admits(self, door: CompartmentTraits) -> bool:
        """Whether a compartment with these traits may hold the parcel (room aside)."""
        if door.temperature is not self.temperature_class or door.temperature_alarm:
            return False
        return self.accessible is None or self.accessible.contains(
            door.floor_mm, door.inside_height_mm
        )

    def unmet(self, doors: Iterable[CompartmentTraits]) -> list[Unmet]:
        """The requirements none of `doors` meets, each on its own, whatever the doors' state
        (a temperature alarm passes: it is temporary). Empty: each is met by some door, though
        maybe not all by one; the caller tells that apart."""
        doors = list(doors)
        found: list[Unmet] = []
        wanted = self.temperature_class
        if not any(d.temperature is wanted for d in doors):
            found.append(
                Unmet("/requirements/temperatureClass", f"the locker has no {wanted} compartment")
            )
        reach = self.accessible
        if reach is not None and not any(
            reach.contains(d.floor_mm, d.inside_height_mm) for d in doors
        ):
            found.append(
                Unmet(
                    "/requirements/accessibleHeightMm",
                    f"no compartment lies within {reach.min_mm}..{reach.max_mm} mm",
                )
            )
        return found

    def to_json(self) -> dict[str, Any] | None:
        """The wire form (delivery-requirements.json); None when the parcel asks for nothing."""
        if self.empty:
            return None
        out: dict[str, Any] = {}
        if self.accessible is not None:
            out["accessibleHeightMm"] = {
                "min": self.accessible.min_mm,
                "max": self.accessible.max_mm,
            }
        if self.temperature is not None:
            out["temperatureClass"] = self.temperature.value
        if self.pickup_check is not None:
            out["pickupCheck"] = self.pickup_check.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> DeliveryRequirements:
        if not data:
            return cls()
        reach = data.get("accessibleHeightMm")
        temperature = data.get("temperatureClass")
        check = data.get("pickupCheck")
        return cls(
            accessible=None if reach is None else HeightRange(reach["min"], reach["max"]),
            temperature=None if temperature is None else TemperatureClass(temperature),
            pickup_check=None if check is None else PickupCheck.from_json(check),
        )


NO_REQUIREMENTS = DeliveryRequirements()
