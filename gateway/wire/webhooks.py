"""Webhook bodies: subscriptions, deliveries (the dead-letter view) and the delivered event."""

from __future__ import annotations

from pydantic import Field

from gateway.domain.keypad import LockoutReason
from gateway.domain.requirements import TemperatureClass
from gateway.domain.webhooks import DeliveryState, WebhookEventType
from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.parcels import ParcelEventOut, ParcelOut


class CreateWebhookIn(WireModel):
    url: str
    events: list[WebhookEventType] | None = None
    description: str | None = None


class WebhookSubscriptionOut(WireModel):
    id: str
    url: str
    # None (null on the wire): every event type, including those later versions add.
    events: list[WebhookEventType] | None
    description: str | None
    active: bool
    created_at: UtcDateTime = Field(alias="createdAt")


class WebhookListOut(WireModel):
    items: list[WebhookSubscriptionOut]


class WebhookDeliveryOut(WireModel):
    id: int
    event_id: str = Field(alias="eventId")
    type: WebhookEventType
    # None for a network event (`locker.*`): it is about a locker, not a parcel.
    parcel_id: str | None = Field(alias="parcelId")
    state: DeliveryState
    attempts: int
    next_attempt_at: UtcDateTime | None = Field(alias="nextAttemptAt")
    last_status: int | None = Field(alias="lastStatus")
    last_error: str | None = Field(alias="lastError")
    created_at: UtcDateTime = Field(alias="createdAt")
    delivered_at: UtcDateTime | None = Field(alias="deliveredAt")


class WebhookDeliveryListOut(WireModel):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None = Field(alias="nextCursor")


class CarrierEventOut(WireModel):
    """The members every event body about one carrier's own things starts with (parcel, hold,
    bundle and courier-session events); a subclass adds what the event is about."""

    event_id: str = Field(alias="eventId")
    type: WebhookEventType
    occurred_at: UtcDateTime = Field(alias="occurredAt")
    carrier_id: str = Field(alias="carrierId")


class WebhookEventOut(CarrierEventOut):
    """The body POSTed to a subscription's URL."""

    parcel: ParcelOut
    event: ParcelEventOut


class RetryDeliveryIn(WireModel):
    """No members yet; an absent body is read as {}."""


class KeypadLockoutOut(WireModel):
    """A locker keypad's lockout as a network event tells it."""

    reason: LockoutReason  # for keypad_cleared: the limit of the lockout that was ended
    locked_until: UtcDateTime | None = Field(alias="lockedUntil")
    lockout: int
    daily_failures: int = Field(alias="dailyFailures")


class TemperatureRangeOut(WireModel):
    low: float
    high: float


class TemperatureAlarmOut(WireModel):
    """A compartment's temperature alarm as a network event tells it."""

    compartment_code: str = Field(alias="compartmentCode")
    temperature_class: TemperatureClass = Field(alias="temperatureClass")
    celsius: float | None
    range_c: TemperatureRangeOut | None = Field(alias="rangeC")


class WebhookLockerEventOut(WireModel):
    """The body POSTed for a network event: a locker's keypad locked out or cleared, a
    compartment's temperature alarm raised or cleared."""

    event_id: str = Field(alias="eventId")
    type: WebhookEventType
    occurred_at: UtcDateTime = Field(alias="occurredAt")
    locker_id: str = Field(alias="lockerId")
    keypad: KeypadLockoutOut | None = None  # keypad_* only
    temperature: TemperatureAlarmOut | None = None  # temperature_* only
    parcel_id: str | None = Field(default=None, alias="parcelId")  # temperature_*: owner only
    # keypad_cleared only: who cleared it and why (the audit trail has the same).
    cleared_by: str | None = Field(default=None, alias="clearedBy")
    reason: str | None = None
