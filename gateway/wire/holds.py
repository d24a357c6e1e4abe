"""Pre-check and soft-hold bodies: precheck-result, hold, requests, webhook-hold-event."""

from __future__ import annotations

from pydantic import Field

from gateway.domain.enums import SizeClass
from gateway.domain.holds import ClassCapacity, Hold, HoldState, Precheck, PrecheckVerdict
from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.common import SizedIn
from gateway.wire.parcels import RequestedOut, requested_to_wire
from gateway.wire.webhooks import CarrierEventOut


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


class CreateHoldIn(SizedIn):
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


class WebhookHoldEventOut(CarrierEventOut):
    """The body POSTed when a soft hold ends."""

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
