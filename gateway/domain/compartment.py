"""A compartment: one door of a locker, its occupancy state, door and item sensor."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from gateway.domain.enums import CompartmentState, DoorState, ItemSensor, SizeClass
from gateway.domain.errors import IllegalCompartmentTransition
from gateway.domain.requirements import CompartmentTraits, TemperatureClass, TemperatureSample
from gateway.domain.sizes import Dimensions, SizeRequirement


class CompartmentEffect(StrEnum):
    """What a parcel transition does to the parcel's compartment."""

    RESERVE = "reserve"
    OCCUPY = "occupy"
    RELEASE = "release"
    DISABLE = "disable"
    DISABLE_EMPTY = "disable_empty"


@dataclass(frozen=True, slots=True)
class Compartment:
    locker_id: str
    code: str
    size_class: SizeClass
    inside: Dimensions
    max_weight_g: int
    state: CompartmentState = CompartmentState.AVAILABLE
    door: DoorState = DoorState.CLOSED
    item: ItemSensor = ItemSensor.UNKNOWN
    parcel_uid: str | None = None
    # Delivery requirements (migration 0017): the declared temperature class and height of
    # the floor above the ground, and whether the locker reports the temperature out of range.
    temperature: TemperatureClass = TemperatureClass.AMBIENT
    floor_mm: int | None = None
    temperature_alarm: bool = False
    reading: TemperatureSample | None = None

    @property
    def traits(self) -> CompartmentTraits:
        return CompartmentTraits(
            temperature=self.temperature,
            floor_mm=self.floor_mm,
            inside_height_mm=self.inside.height_mm,
            temperature_alarm=self.temperature_alarm,
        )

    def reserve(self, parcel_uid: str) -> Compartment:
        self._require(CompartmentState.AVAILABLE, "reserve")
        return replace(self, state=CompartmentState.RESERVED, parcel_uid=parcel_uid)

    def occupy(self) -> Compartment:
        self._require(CompartmentState.RESERVED, "occupy")
        return replace(self, state=CompartmentState.OCCUPIED)

    def release(self) -> Compartment:
        """Detach the parcel; a compartment out of service stays so until an operator acts."""
        if self.state is CompartmentState.OUT_OF_SERVICE:
            return replace(self, parcel_uid=None)
        self._require_any((CompartmentState.RESERVED, CompartmentState.OCCUPIED), "release")
        return replace(self, state=CompartmentState.AVAILABLE, parcel_uid=None)

    def disable(self) -> Compartment:
        """Take out of service (door fault, operator); a parcel inside stays attached."""
        return replace(self, state=CompartmentState.OUT_OF_SERVICE)

    def enable(self) -> Compartment:
        """Back in service: occupied if a parcel is still attached, otherwise available."""
        self._require(CompartmentState.OUT_OF_SERVICE, "enable")
        state = CompartmentState.OCCUPIED if self.parcel_uid else CompartmentState.AVAILABLE
        return replace(self, state=state)

    def apply(self, effect: CompartmentEffect, parcel_uid: str) -> Compartment:
        if effect is CompartmentEffect.RESERVE:
            return self.reserve(parcel_uid)
        if self.parcel_uid != parcel_uid:
            raise IllegalCompartmentTransition(
                f"compartment {self.code} does not hold parcel {parcel_uid}"
            )
        if effect is CompartmentEffect.OCCUPY:
            return self.occupy()
        if effect is CompartmentEffect.RELEASE:
            return self.release()
        if effect is CompartmentEffect.DISABLE_EMPTY:
            return replace(self.disable(), parcel_uid=None)
        return self.disable()

    def _require(self, state: CompartmentState, verb: str) -> None:
        self._require_any((state,), verb)

    def _require_any(self, states: tuple[CompartmentState, ...], verb: str) -> None:
        if self.state not in states:
            raise IllegalCompartmentTransition(
                f"cannot {verb} compartment {self.code} while it is {self.state}"
            )


def rank_candidates(
    compartments: Iterable[Compartment], need: SizeRequirement
) -> list[Compartment]:
    """Available compartments that take the parcel, the smallest first."""
    fitting = [
        c
        for c in compartments
        if c.state is CompartmentState.AVAILABLE
        and need.accepts(c.size_class, c.inside, c.max_weight_g)
        and need.requirements.admits(c.traits)
    ]
    return sorted(fitting, key=lambda c: (c.size_class.rank, c.inside.volume_mm3, c.code))
