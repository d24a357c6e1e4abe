"""The OLP event types a connector can be handed, so mapping tables are checked at start-up."""

from __future__ import annotations

from gateway.domain.webhooks import WebhookEventType

__all__ = ["OLP_EVENT_TYPES", "PICKUP_REMINDER"]

PICKUP_REMINDER = "parcel.pickup_reminder"
"""Not a state change: the notifier's "your pickup window ends soon" (no webhook carries it)."""

OLP_EVENT_TYPES: tuple[str, ...] = (
    *(str(t) for t in WebhookEventType if not t.is_network_event),
    PICKUP_REMINDER,
)
"""Every `type` a `ConnectorEvent` can carry: one `parcel.<state>` per state, plus reminders
(network events about a locker, `locker.*`, go to webhooks only and carry no parcel)."""
