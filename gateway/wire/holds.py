"""Pre-check and soft-hold bodies: precheck-result, hold, requests, webhook-hold-event."""

from __future__ import annotations

from pydantic import Field, model_validator

from gateway.domain.enums import SizeClass
from gateway.domain.holds import ClassCapacity, Hold, HoldState, Precheck, PrecheckVerdict
from gateway.domain.sizes import SizeRequirement
from gateway.domain.webhooks import WebhookEventType
from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.common import DimensionsMm
from gateway.wire.parcels import RequestedOut, requested_to_wire


class _Sized(WireModel):
    size_class: SizeClass | None = Field(default=None, alias="sizeClass")
    dimensions_mm: DimensionsMm | None = Field(default=None, alias="dimensionsMm")
    weight_g: int | None = Field(default=None, alias="weightG")

    @model_validator(mode="after")
    def _needs_a_size(self) -> _Sized:
        # The schema says the same; repeated so a model built in code cannot break it either.
        if self.size_class is None and self.dimensions_mm is None:
            raise ValueError("needs one of: sizeClass, dimensionsMm")
        return self

    def size_requirement(self) -> SizeRequirement:
        dims = None if self.dimensions_mm is None else self.dimensions_mm.to_domain()
        return SizeRequirement(size_class=self.size_class, dimensions=dims, weight_g=self.weight_g)


class ClassCapacityOut(WireModel):
    size_class: SizeClass = Field(alias="sizeClass")
    fitting: int
    available: int
    held: int
    spare: int


class PrecheckOut(WireModel):
    locker_id: str = Field(alias="lockerId")
    at: UtcDateTime
    verdict: PrecheckVerdict
    size_class: SizeClass | None = Field(alias="sizeClass")
    classes: list[ClassCapacityOut]


class CreateHoldIn(_Sized):
    locker_id: str = Field(alias="lockerId")
    ttl_seconds: int | None = Field(default=None, alias="ttlSeconds")
    reference: str | None = None


class ReleaseHoldIn(WireModel):
    """No members; an absent body is read as {}."""


class HoldOut(WireModel):
    hold_id: str = Field(alias="holdId")
    locker_id: str = Field(alias="lockerId")
    size_class: SizeClass = Field(alias="sizeClass")
    state: HoldState
    requested: RequestedOut
    reference: str | None
    parcel_id: str | None = Field(alias="parcelId")
    created_at: UtcDateTime = Field(alias="createdAt")
    expires_at: UtcDateTime = Field(alias="expiresAt")
    ended_at: UtcDateTime | None = Field(alias="endedAt")


class HoldListOut(WireModel):
    items: list[HoldOut]
    next_cursor: str | None = Field(alias="nextCursor")


class WebhookHoldEventOut(WireModel):
    """The body POSTed when a soft hold ends."""

    event_id: str = Field(alias="eventId")
    type: WebhookEventType
    occurred_at: UtcDateTime = Field(alias="occurredAt")
    carrier_id: str = Field(alias="carrierId")
    hold: HoldOut


def hold_to_wire(hold: Hold) -> HoldOut:
    return HoldOut(
        hold_id=hold.hold_id,
        locker_id=hold.locker_id,
        size_class=hold.size_class,
        state=hold.state,
        requested=requested_to_wire(hold.need),
        reference=hold.reference,
        parcel_id=hold.parcel_id,
        created_at=hold.created_at,
        expires_at=hold.expires_at,
        ended_at=hold.ended_at,
    )


def _capacity_to_wire(capacity: ClassCapacity) -> ClassCapacityOut:
    return ClassCapacityOut(
        size_class=capacity.size_class,
        fitting=capacity.fitting,
        available=capacity.available,
        held=capacity.held,
        spare=capacity.spare,
    )


def precheck_to_wire(answer: Precheck) -> PrecheckOut:
    return PrecheckOut(
        locker_id=answer.locker_id,
        at=answer.at,
        verdict=answer.verdict,
        size_class=answer.size_class,
        classes=[_capacity_to_wire(c) for c in answer.classes],
    )
