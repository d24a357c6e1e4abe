"""Webhook vocabulary: event types carriers subscribe to, delivery states, the retry schedule."""

from __future__ import annotations

from enum import StrEnum

from gateway.domain.enums import ParcelState


class WebhookEventType(StrEnum):
    """`parcel.<state>`: one per parcel state, the `type` of the event that enters it."""

    ANNOUNCED = "parcel.announced"
    RESERVED = "parcel.reserved"
    RESERVATION_EXPIRED = "parcel.reservation_expired"
    CANCELLED = "parcel.cancelled"
    DEPOSIT_FAILED = "parcel.deposit_failed"
    READY_FOR_PICKUP = "parcel.ready_for_pickup"
    PICKED_UP = "parcel.picked_up"
    PICKUP_FAILED = "parcel.pickup_failed"
    EXPIRED = "parcel.expired"
    COLLECTED = "parcel.collected"
    RETURNED = "parcel.returned"
    DROPOFF_ANNOUNCED = "parcel.dropoff_announced"
    DROPPED_OFF = "parcel.dropped_off"
    REDIRECTED = "parcel.redirected"
    # Network events: about a locker, not a parcel (webhook-locker-event.json). Sent only to
    # subscriptions that name them: a subscription for "every type" means every parcel type.
    KEYPAD_LOCKED = "locker.keypad_locked"
    KEYPAD_CLEARED = "locker.keypad_cleared"

    @classmethod
    def entering(cls, state: ParcelState) -> WebhookEventType:
        return cls(f"parcel.{state}")

    @property
    def is_network_event(self) -> bool:
        return self.value.startswith("locker.")


def is_network_event(event_type: str) -> bool:
    """A `locker.*` event: its outbox row carries a locker, not a parcel."""
    return event_type.startswith("locker.")


class DeliveryState(StrEnum):
    """An outbox row: waiting (or in flight), acknowledged, given up on, or deliberately unsent."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    SKIPPED = "skipped"  # the connector declined the event (SkipEvent): settled, never sent
