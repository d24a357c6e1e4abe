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
    TEMPERATURE_ALARM = "locker.temperature_alarm"
    TEMPERATURE_CLEARED = "locker.temperature_cleared"
    # Bundle events (webhook-bundle-event.json): a bundle's parcels picked up, some or all.
    # Like network events they carry no parcel event and go only to subscriptions naming them.
    BUNDLE_PARTIALLY_PICKED_UP = "bundle.partially_picked_up"
    BUNDLE_PICKED_UP = "bundle.picked_up"
    # A carrier's own courier round (webhook-courier-event.json); also sent only to
    # subscriptions that name them, and only the carrier's.
    COURIER_SESSION_OPENED = "courier.session_opened"
    COURIER_SESSION_CLOSED = "courier.session_closed"
    # A soft hold's end (webhook-hold-event.json): the carrier's own hold converted into a
    # reservation, released, or expired; sent only to the carrier's subscriptions naming them.
    HOLD_CONVERTED = "hold.converted"
    HOLD_RELEASED = "hold.released"
    HOLD_EXPIRED = "hold.expired"

    @classmethod
    def entering(cls, state: ParcelState) -> WebhookEventType:
        return cls(f"parcel.{state}")

    @property
    def is_network_event(self) -> bool:
        return is_network_event(self.value)


# Event types whose outbox row carries its whole body rather than a parcel's event.
_NETWORK_EVENT_PREFIXES = ("locker.", "bundle.", "courier.", "hold.")


def is_network_event(event_type: str) -> bool:
    """A `locker.*`, `bundle.*`, `courier.*` or `hold.*` event: its outbox row carries a
    locker, a bundle, a courier session or a soft hold, not a parcel, and its stored body
    is sent as it is (gateway/delivery/network_events.py)."""
    return event_type.startswith(_NETWORK_EVENT_PREFIXES)


class DeliveryState(StrEnum):
    """An outbox row: waiting (or in flight), acknowledged, given up on, or deliberately unsent."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    SKIPPED = "skipped"  # the connector declined the event (SkipEvent): settled, never sent
