"""Delivery bodies over all of a carrier's targets (webhooks, connectors): the dead letters."""

from __future__ import annotations

from pydantic import Field

from gateway.domain.delivery import TargetKind
from gateway.domain.webhooks import DeliveryState
from gateway.wire.base import UtcDateTime, WireModel


class DeliveryOut(WireModel):
    id: int
    event_id: str = Field(alias="eventId")
    # A string, not WebhookEventType: connectors also carry events no webhook has (reminders).
    type: str
    # None for a network event (`locker.*`): it is about a locker, not a parcel.
    parcel_id: str | None = Field(alias="parcelId")
    target_kind: TargetKind = Field(alias="targetKind")
    target_id: str = Field(alias="targetId")
    state: DeliveryState
    attempts: int
    next_attempt_at: UtcDateTime | None = Field(alias="nextAttemptAt")
    last_status: int | None = Field(alias="lastStatus")
    last_error: str | None = Field(alias="lastError")
    created_at: UtcDateTime = Field(alias="createdAt")
    delivered_at: UtcDateTime | None = Field(alias="deliveredAt")


class DeliveryListOut(WireModel):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(alias="nextCursor")


class ReplayDeliveryIn(WireModel):
    """No members yet; an absent body is read as {}."""
