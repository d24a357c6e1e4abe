"""Parcel and parcel-event bodies and their converters from the domain."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gateway.domain.enums import Direction, ParcelState, SizeClass
from gateway.domain.parcel import Parcel, ParcelEvent
from gateway.domain.sizes import SizeRequirement
from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.common import DimensionsMm
from gateway.wire.hold_policies import (
    AppliedHoldOut,
    RecipientRequestsOut,
    applied_hold_to_wire,
    recipient_requests_to_wire,
)
from gateway.wire.requirements import DeliveryRequirementsWire


class RequestedOut(WireModel):
    """What the carrier booked, echoed back."""

    size_class: SizeClass | None = Field(default=None, alias="sizeClass")
    dimensions_mm: DimensionsMm | None = Field(default=None, alias="dimensionsMm")
    weight_g: int | None = Field(default=None, alias="weightG")
    requirements: DeliveryRequirementsWire | None = None


class ParcelOut(WireModel):
    parcel_id: str = Field(alias="parcelId")
    direction: Direction
    state: ParcelState
    locker_id: str = Field(alias="lockerId")
    compartment_code: str | None = Field(alias="compartmentCode")
    requested: RequestedOut
    reference: str | None
    reserved_until: UtcDateTime | None = Field(alias="reservedUntil")
    pickup_until: UtcDateTime | None = Field(alias="pickupUntil")
    redirected_from: str | None = Field(alias="redirectedFrom")
    redirected_to: str | None = Field(alias="redirectedTo")
    created_at: UtcDateTime = Field(alias="createdAt")
    updated_at: UtcDateTime = Field(alias="updatedAt")
    # Absent on parcels booked before hold-time policies (migration 0016).
    hold_policy: AppliedHoldOut | None = Field(default=None, alias="holdPolicy")
    recipient_requests: RecipientRequestsOut | None = Field(default=None, alias="recipientRequests")


class ParcelListOut(WireModel):
    items: list[ParcelOut]
    next_cursor: str | None = Field(alias="nextCursor")


class ParcelEventOut(WireModel):
    seq: int
    type: str
    from_state: ParcelState | None = Field(alias="fromState")
    to_state: ParcelState = Field(alias="toState")
    at: UtcDateTime
    details: dict[str, Any]


class ParcelEventListOut(WireModel):
    parcel_id: str = Field(alias="parcelId")
    items: list[ParcelEventOut]


def requested_to_wire(need: SizeRequirement) -> RequestedOut:
    dims = need.dimensions
    return RequestedOut(
        size_class=need.size_class,
        dimensions_mm=None if dims is None else DimensionsMm.from_domain(dims),
        weight_g=need.weight_g,
        requirements=DeliveryRequirementsWire.from_domain(need.requirements),
    )


def parcel_to_wire(parcel: Parcel) -> ParcelOut:
    """The carrier's view: internal ids (uid, carrier) and counters stay inside."""
    return ParcelOut(
        parcel_id=parcel.parcel_id,
        direction=parcel.direction,
        state=parcel.state,
        locker_id=parcel.locker_id,
        compartment_code=parcel.compartment_code,
        requested=requested_to_wire(parcel.need),
        reference=parcel.reference,
        reserved_until=parcel.reserved_until,
        pickup_until=parcel.pickup_until,
        redirected_from=parcel.redirected_from,
        redirected_to=parcel.redirected_to,
        created_at=parcel.created_at,
        updated_at=parcel.updated_at,
        hold_policy=(
            None
            if parcel.hold is None
            else applied_hold_to_wire(parcel.hold, parcel.next_reminder_at)
        ),
        recipient_requests=(
            None if parcel.hold is None else recipient_requests_to_wire(parcel.recipient_requests)
        ),
    )


def event_to_wire(event: ParcelEvent) -> ParcelEventOut:
    return ParcelEventOut(
        seq=event.seq,
        type=event.type,
        from_state=event.from_state,
        to_state=event.to_state,
        at=event.at,
        details=dict(event.details),
    )
