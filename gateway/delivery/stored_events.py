"""The event an outbox row carries, read back for one route: what that connector may see."""

from __future__ import annotations

from typing import Any

from gateway.delivery.routes import Route
from gateway.sdk.connectors import Capability, ConnectorEvent
from gateway.store import Delivery


def read_event(delivery: Delivery, route: Route, *, network_id: str) -> ConnectorEvent:
    """The row's ConnectorEvent for `route` (pydantic's ValidationError when unreadable).

    Recipient data goes only to a connector that notifies recipients: a row queued while the
    attachment was a notifier must not hand it to a connector that replaced it since.
    """
    # Rows queued before connectors existed (migration 0007) lack networkId.
    body: dict[str, Any] = {"networkId": network_id, **delivery.body}
    if Capability.RECIPIENT_NOTIFICATIONS not in route.connector.capabilities:
        body.pop("recipient", None)
        body.pop("access", None)
    return ConnectorEvent.from_json(body)
