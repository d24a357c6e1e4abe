"""Request bodies of the carrier API and their translation into domain inputs."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, model_validator

from gateway.domain.enums import Direction, SizeClass
from gateway.domain.requirements import NO_REQUIREMENTS
from gateway.domain.sizes import SizeRequirement
from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.common import DimensionsMm
from gateway.wire.recipients import RecipientWire
from gateway.wire.requirements import DeliveryRequirementsWire


class CreateParcelIn(WireModel):
    parcel_id: str = Field(alias="parcelId")
    locker_id: str = Field(alias="lockerId")
    direction: Direction = Direction.LAST_MILE
    size_class: SizeClass | None = Field(default=None, alias="sizeClass")
    dimensions_mm: DimensionsMm | None = Field(default=None, alias="dimensionsMm")
    weight_g: int | None = Field(default=None, alias="weightG")
    reserve: bool = True
    reservation_ttl_seconds: int | None = Field(default=None, alias="reservationTtlSeconds")
    pickup_window_seconds: int | None = Field(default=None, alias="pickupWindowSeconds")
    reference: str | None = None
    recipient: RecipientWire | None = None
    requirements: DeliveryRequirementsWire | None = None
    hold_id: str | None = Field(default=None, alias="holdId")

    @model_validator(mode="after")
    def _mirror_schema_rules(self) -> CreateParcelIn:
        # The schema says the same; repeated so a model built in code cannot break it either.
        if self.size_class is None and self.dimensions_mm is None:
            raise ValueError("needs one of: sizeClass, dimensionsMm")
        if self.direction is Direction.FIRST_MILE and not self.reserve:
            raise ValueError("a first_mile parcel always holds a compartment; reserve must be true")
        return self

    def size_requirement(self) -> SizeRequirement:
        dims = None if self.dimensions_mm is None else self.dimensions_mm.to_domain()
        return SizeRequirement(
            size_class=self.size_class,
            dimensions=dims,
            weight_g=self.weight_g,
            requirements=NO_REQUIREMENTS
            if self.requirements is None
            else self.requirements.to_domain(),
        )

    def reservation_ttl(self) -> timedelta | None:
        """None: the network's default applies."""
        seconds = self.reservation_ttl_seconds
        return None if seconds is None else timedelta(seconds=seconds)

    def pickup_window(self) -> timedelta | None:
        """None: the network's default applies."""
        seconds = self.pickup_window_seconds
        return None if seconds is None else timedelta(seconds=seconds)


class ReserveParcelIn(WireModel):
    """No members yet; an absent body is read as {}."""


class CancelParcelIn(WireModel):
    reason: str | None = None


class ExtendParcelIn(WireModel):
    pickup_until: UtcDateTime = Field(alias="pickupUntil")


class RedirectParcelIn(WireModel):
    locker_id: str = Field(alias="lockerId")
    new_parcel_id: str = Field(alias="newParcelId")
