"""Wire models of courier sessions, the collection manifest and the courier webhook events."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from gateway.domain.courier import (
    CollectReason,
    CourierSession,
    CourierTask,
    ItemStatus,
    ManifestLine,
    RoundItem,
    SessionState,
)
from gateway.domain.enums import Direction, ParcelState
from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.webhooks import CarrierEventOut


class OpenCourierSessionIn(WireModel):
    locker_id: str = Field(alias="lockerId")
    courier_ref: str | None = Field(default=None, alias="courierRef")
    ttl_seconds: int | None = Field(default=None, alias="ttlSeconds")


class CloseCourierSessionIn(WireModel):
    pass


class IssueSessionCodeIn(WireModel):
    pass


class OpenNextDoorIn(WireModel):
    pass


class CourierSessionItemOut(WireModel):
    parcel_id: str = Field(alias="parcelId")
    compartment_code: str = Field(alias="compartmentCode")
    task: CourierTask
    status: ItemStatus
    parcel_state: ParcelState = Field(alias="parcelState")
    opened_at: UtcDateTime | None = Field(default=None, alias="openedAt")


class CourierSessionCountsOut(WireModel):
    pending: int
    opened: int
    done: int
    failed: int


class CourierSessionOut(WireModel):
    session_id: str = Field(alias="sessionId")
    locker_id: str = Field(alias="lockerId")
    courier_ref: str | None = Field(default=None, alias="courierRef")
    state: SessionState
    opened_at: UtcDateTime = Field(alias="openedAt")
    expires_at: UtcDateTime = Field(alias="expiresAt")
    closed_at: UtcDateTime | None = Field(alias="closedAt")
    # Only in the answer that opens the session: the code in clear, shown once.
    code: str | None = None
    items: list[CourierSessionItemOut]
    counts: CourierSessionCountsOut


class CourierSessionCodeOut(WireModel):
    session_id: str = Field(alias="sessionId")
    locker_id: str = Field(alias="lockerId")
    code: str
    expires_at: UtcDateTime = Field(alias="expiresAt")


class ManifestItemOut(WireModel):
    parcel_id: str = Field(alias="parcelId")
    compartment_code: str = Field(alias="compartmentCode")
    reason: CollectReason
    direction: Direction
    parcel_state: ParcelState = Field(alias="parcelState")
    pickup_until: UtcDateTime | None = Field(alias="pickupUntil")


class LockerManifestOut(WireModel):
    locker_id: str = Field(alias="lockerId")
    items: list[ManifestItemOut]


class CollectionManifestOut(WireModel):
    generated_at: UtcDateTime = Field(alias="generatedAt")
    lockers: list[LockerManifestOut]
    count: int
    truncated: bool


class WebhookCourierEventOut(CarrierEventOut):
    """The body POSTed for `courier.session_opened` and `courier.session_closed`."""

    session: CourierSessionOut
    # session_opened only: what the courier should take back from the locker.
    manifest: LockerManifestOut | None = None


def item_to_wire(item: RoundItem) -> CourierSessionItemOut:
    return CourierSessionItemOut(
        parcel_id=item.parcel.parcel_id,
        compartment_code=item.compartment_code,
        task=item.task,
        status=item.status,
        parcel_state=item.parcel.state,
        opened_at=item.opened_at,
    )


def counts_of(items: list[RoundItem]) -> CourierSessionCountsOut:
    found = {status: 0 for status in ItemStatus}
    for item in items:
        found[item.status] += 1
    return CourierSessionCountsOut(
        pending=found[ItemStatus.PENDING],
        opened=found[ItemStatus.OPENED],
        done=found[ItemStatus.DONE],
        failed=found[ItemStatus.FAILED],
    )


def manifest_item_to_wire(line: ManifestLine) -> ManifestItemOut:
    parcel = line.parcel
    return ManifestItemOut(
        parcel_id=parcel.parcel_id,
        compartment_code=parcel.compartment_code or "",
        reason=line.reason,
        direction=parcel.direction,
        parcel_state=parcel.state,
        pickup_until=parcel.pickup_until,
    )


def locker_manifest_to_wire(locker_id: str, lines: list[ManifestLine]) -> LockerManifestOut:
    return LockerManifestOut(locker_id=locker_id, items=[manifest_item_to_wire(x) for x in lines])


def manifest_to_wire(
    generated_at: datetime, lockers: list[tuple[str, list[ManifestLine]]], *, truncated: bool
) -> CollectionManifestOut:
    return CollectionManifestOut(
        generated_at=generated_at,
        lockers=[locker_manifest_to_wire(lid, lines) for lid, lines in lockers],
        count=sum(len(lines) for _, lines in lockers),
        truncated=truncated,
    )


def session_to_wire(
    session: CourierSession,
    state: SessionState,
    items: list[RoundItem],
    *,
    code: str | None = None,
) -> CourierSessionOut:
    return CourierSessionOut(
        session_id=session.id,
        locker_id=session.locker_id,
        courier_ref=session.courier_ref,
        state=state,
        opened_at=session.opened_at,
        expires_at=session.expires_at,
        closed_at=session.closed_at,
        code=code,
        items=[item_to_wire(item) for item in items],
        counts=counts_of(items),
    )
