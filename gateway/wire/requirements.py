"""Delivery requirements on the wire (delivery-requirements.json) and their domain form."""

from __future__ import annotations

from pydantic import Field, model_validator

from gateway.domain.requirements import (
    DeliveryRequirements,
    HeightRange,
    PickupCheck,
    TemperatureClass,
)
from gateway.wire.base import WireModel


class HeightRangeMm(WireModel):
    """A reach range above the ground; the schema cannot say min < max, so the model does."""

    min: int = Field(ge=0, le=3000)
    max: int = Field(ge=1, le=3000)

    @model_validator(mode="after")
    def _ordered(self) -> HeightRangeMm:
        if self.min >= self.max:
            raise ValueError("accessibleHeightMm: min must be below max")
        return self


class PickupCheckWire(WireModel):
    minimum_age: int | None = Field(default=None, alias="minimumAge", ge=16, le=21)
    identity: bool | None = None  # absent means false; sent only when true

    @model_validator(mode="after")
    def _asks_something(self) -> PickupCheckWire:
        if self.minimum_age is None and not self.identity:
            raise ValueError("pickupCheck needs minimumAge or identity: true")
        return self

    def to_domain(self) -> PickupCheck:
        return PickupCheck(minimum_age=self.minimum_age, identity=bool(self.identity))

    @classmethod
    def from_domain(cls, check: PickupCheck) -> PickupCheckWire:
        return cls(minimum_age=check.minimum_age, identity=True if check.identity else None)


class DeliveryRequirementsWire(WireModel):
    accessible_height_mm: HeightRangeMm | None = Field(default=None, alias="accessibleHeightMm")
    temperature_class: TemperatureClass | None = Field(default=None, alias="temperatureClass")
    pickup_check: PickupCheckWire | None = Field(default=None, alias="pickupCheck")

    @model_validator(mode="after")
    def _not_empty(self) -> DeliveryRequirementsWire:
        if self.to_domain().empty:
            raise ValueError("requirements must name at least one requirement")
        return self

    def to_domain(self) -> DeliveryRequirements:
        reach = self.accessible_height_mm
        return DeliveryRequirements(
            accessible=None if reach is None else HeightRange(reach.min, reach.max),
            temperature=self.temperature_class,
            pickup_check=None if self.pickup_check is None else self.pickup_check.to_domain(),
        )

    @classmethod
    def from_domain(cls, wanted: DeliveryRequirements) -> DeliveryRequirementsWire | None:
        """None when the parcel asks for nothing (the member is then left out)."""
        if wanted.empty:
            return None
        reach = wanted.accessible
        check = wanted.pickup_check
        return cls(
            accessible_height_mm=None
            if reach is None
            else HeightRangeMm(min=reach.min_mm, max=reach.max_mm),
            temperature_class=wanted.temperature,
            pickup_check=None if check is None else PickupCheckWire.from_domain(check),
        )
