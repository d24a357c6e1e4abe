"""Locker, availability and compartment bodies and their converters from the domain."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from gateway.domain.compartment import Compartment
from gateway.domain.enums import CompartmentState, DoorState, ItemSensor, SizeClass
from gateway.domain.locker import Locker, SizeAvailability
from gateway.domain.requirements import TemperatureClass
from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.common import InsideMm


class LocationOut(WireModel):
    lat: float
    lon: float
    address: str | None = None


class SizeAvailabilityOut(WireModel):
    size_class: SizeClass = Field(alias="sizeClass")
    available: int
    total: int
    # Absent for ambient compartments (what a booking without requirements takes).
    temperature_class: TemperatureClass | None = Field(default=None, alias="temperatureClass")


class LockerOut(WireModel):
    id: str
    name: str
    location: LocationOut
    adapter: str
    features: list[str]
    availability: list[SizeAvailabilityOut]
    distance_m: float | None = Field(default=None, alias="distanceM")


class LockerListOut(WireModel):
    items: list[LockerOut]
    next_cursor: str | None = Field(alias="nextCursor")


class TemperatureReadingOut(WireModel):
    celsius: float
    at: UtcDateTime
    alarm: bool


class CompartmentOut(WireModel):
    code: str
    size_class: SizeClass = Field(alias="sizeClass")
    inside_mm: InsideMm = Field(alias="insideMm")
    max_weight_g: int = Field(alias="maxWeightG")
    state: CompartmentState
    door: DoorState
    item_sensor: ItemSensor = Field(alias="itemSensor")
    temperature_class: TemperatureClass = Field(
        default=TemperatureClass.AMBIENT, alias="temperatureClass"
    )
    floor_mm: int | None = Field(default=None, alias="floorMm")
    temperature: TemperatureReadingOut | None = None


def locker_to_wire(
    locker: Locker, availability: Iterable[SizeAvailability], distance_m: float | None = None
) -> LockerOut:
    """`distance_m` is given only when the caller listed lockers near a point."""
    loc = locker.location
    return LockerOut(
        id=locker.id,
        name=locker.name,
        location=LocationOut(lat=loc.lat, lon=loc.lon, address=loc.address),
        adapter=locker.adapter,
        features=sorted(locker.features),  # sets have no order; keep responses stable
        availability=[
            SizeAvailabilityOut(
                size_class=a.size_class,
                available=a.available,
                total=a.total,
                temperature_class=None
                if a.temperature is TemperatureClass.AMBIENT
                else a.temperature,
            )
            for a in sorted(availability, key=lambda a: a.size_class.rank)
        ],
        distance_m=None if distance_m is None else round(distance_m, 1),
    )


def compartment_to_wire(compartment: Compartment) -> CompartmentOut:
    return CompartmentOut(
        code=compartment.code,
        size_class=compartment.size_class,
        inside_mm=InsideMm.from_domain(compartment.inside),
        max_weight_g=compartment.max_weight_g,
        state=compartment.state,
        door=compartment.door,
        item_sensor=compartment.item,
        temperature_class=compartment.temperature,
        floor_mm=compartment.floor_mm,
        temperature=None
        if compartment.reading is None
        else TemperatureReadingOut(
            celsius=compartment.reading.celsius,
            at=compartment.reading.at,
            alarm=compartment.temperature_alarm,
        ),
    )
