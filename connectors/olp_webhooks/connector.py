"""The `olp-webhooks` connector: an event as the body and headers of SPEC.md section 10.

Every carrier webhook subscription is delivered through this connector, so the bytes must
stay exactly what `webhook-event.json` publishes: `eventId`, `type`, `occurredAt`,
`carrierId`, `parcel`, `event`, compact JSON. The `OLP-Signature` and `OLP-Delivery-Attempt`
headers belong to the auth plugin (`OlpJwsAuth`), which signs exactly the bytes rendered here.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from gateway.sdk.connectors import (
    Capability,
    Connector,
    ConnectorConfig,
    ConnectorConfigError,
    ConnectorEvent,
    HttpRequest,
)

__all__ = ["USER_AGENT", "WEBHOOK_MEMBERS", "OlpWebhooksConfig", "OlpWebhooksConnector"]

USER_AGENT = "OpenLocker-Webhooks/1.0"
# webhook-event.json's members, in this order; the rest of the event (locker, recipient,
# access, networkId) is not part of the published webhook body.
WEBHOOK_MEMBERS = ("eventId", "type", "occurredAt", "carrierId", "parcel", "event")


class OlpWebhooksConfig(ConnectorConfig):
    """Where the subscription's events are POSTed."""

    url: str


class OlpWebhooksConnector(Connector):
    name: ClassVar[str] = "olp-webhooks"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.OUTBOUND_EVENTS})
    config_model: ClassVar[type[ConnectorConfig]] = OlpWebhooksConfig

    def __init__(self, *, config: ConnectorConfig) -> None:
        if not isinstance(config, OlpWebhooksConfig):
            raise ConnectorConfigError("olp-webhooks: the config must be an OlpWebhooksConfig")
        super().__init__(config=config)
        self._url = config.url

    def render(self, event: ConnectorEvent) -> HttpRequest:
        whole: dict[str, Any] = event.model_dump(mode="json", by_alias=True)
        body = {member: whole[member] for member in WEBHOOK_MEMBERS}
        # Compact and UTF-8 as published; the signature covers exactly these bytes.
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            "OLP-Event-Id": event.event_id,
            "OLP-Event-Type": event.type,
            "User-Agent": USER_AGENT,
        }
        return HttpRequest(url=self._url, body=data, headers=headers)
