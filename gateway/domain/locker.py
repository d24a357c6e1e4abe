"""A locker: a site with compartments, a location and declared features."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.domain.compartment import Compartment
from gateway.domain.enums import CompartmentState, SizeClass
from gateway.domain.requirements import TemperatureClass

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class Location:
    lat: float
    lon: float
    address: str | None = None

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError("latitude must be within ±90 and longitude within ±180 degrees")

    def distance_m(self, other: Location) -> float:
        """Great-circle distance (haversine) in metres."""
        phi1, phi2 = math.radians(self.lat), math.radians(other.lat)
        dphi = phi2 - phi1
        dlmb = math.radians(other.lon - self.lon)
        h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
        return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Locker:
    id: str
    name: str
    location: Location
    adapter: str = "olp"
    features: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SizeAvailability:
    size_class: SizeClass
    available: int
    total: int
    # Delivery requirements: one entry per size class and temperature class (ambient first).
    temperature: TemperatureClass = TemperatureClass.AMBIENT


def availability(compartments: Iterable[Compartment]) -> list[SizeAvailability]:
    """Per size class and temperature class: how many compartments exist and how many are
    free (a door whose temperature is out of range is not), XS and ambient first."""
    total: Counter[tuple[SizeClass, TemperatureClass]] = Counter()
    free: Counter[tuple[SizeClass, TemperatureClass]] = Counter()
    for c in compartments:
        key = (c.size_class, c.temperature)
        total[key] += 1
        if c.state is CompartmentState.AVAILABLE and not c.temperature_alarm:
            free[key] += 1
    return [
        SizeAvailability(s, free[(s, t)], total[(s, t)], t)
        for s in SizeClass
        for t in TemperatureClass
        if total[(s, t)]
    ]
