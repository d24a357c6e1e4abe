"""Webhook vocabulary: event types carriers subscribe to, delivery states, the retry schedule."""

from __future__ import annotations

from collections.abc import Callable
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

    @classmethod
    def entering(cls, state: ParcelState) -> WebhookEventType:
        return cls(f"parcel.{state}")


class DeliveryState(StrEnum):
    """An outbox row: waiting (or in flight), acknowledged, given up on, or deliberately unsent."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    SKIPPED = "skipped"  # the connector declined the event (SkipEvent): settled, never sent


def retry_delay_s(attempt: int, *, base_s: float, cap_s: float, rand: Callable[[], float]) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): "equal jitter".

    A uniform pick in [c/2, c] with c = min(cap, base * 2^(attempt-1)): receivers that fail
    together (an outage) are not hammered by every gateway in lock-step when they come back,
    and a retry never follows its failure at once (full jitter's [0, c] sometimes does).
    """
    if attempt < 1:
        raise ValueError("attempts count from 1")
    # Clamp the exponent: 2.0**2000 overflows long before any sane cap is reached.
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt - 1, 64))
    return ceiling / 2 + ceiling / 2 * rand()
