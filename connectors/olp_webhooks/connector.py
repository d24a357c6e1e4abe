"""The `olp-webhooks` connector: an event as the body and headers of SPEC.md section 10.

Every carrier webhook subscription is delivered through this connector, so the bytes must
stay exactly what `webhook-event.json` publishes: `eventId`, `type`, `occurredAt`,
`carrierId`, `parcel`, `event`, compact JSON. The `OLP-Signature` and `OLP-Delivery-Attempt`
headers belong to the auth plugin (`OlpJwsAuth`), which signs exactly the bytes rendered here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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

    def render_network_event(
        self, body: Mapping[str, Any], *, event_id: str, event_type: str
    ) -> HttpRequest:
        """A network event (`locker.*`, webhook-locker-event.json) as stored: same headers."""
        data = json.dumps(dict(body), separators=(",", ":"), ensure_ascii=False).encode()
        return HttpRequest(url=self._url, body=data, headers=self._headers(event_id, event_type))

    def render(self, event: ConnectorEvent) -> HttpRequest:
        whole: dict[str, Any] = event.model_dump(mode="json", by_alias=True)
        body = {member: whole[member] for member in WEBHOOK_MEMBERS}
        # Compact and UTF-8 as published; the signature covers exactly these bytes.
        data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        return HttpRequest(
            url=self._url, body=data, headers=self._headers(event.event_id, event.type)
        )

    @staticmethod
    def _headers(event_id: str, event_type: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "OLP-Event-Id": event_id,
            "OLP-Event-Type": event_type,
            "User-Agent": USER_AGENT,
        }
