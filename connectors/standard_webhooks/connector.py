"""The `standard-webhooks` connector: OLP parcel events as Standard Webhooks 1.0 JSON payloads.

The body follows the specification's recommended shape, `{"type", "timestamp", "data"}`; the
`webhook-id`, `webhook-timestamp` and `webhook-signature` headers belong to the attachment's
auth plugin (`standard-webhooks-v1` or `-v1a`), which signs exactly the bytes rendered here.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field

from gateway.sdk.connectors import (
    OLP_EVENT_TYPES,
    Capability,
    Connector,
    ConnectorConfig,
    ConnectorConfigError,
    ConnectorEvent,
    HttpRequest,
)

__all__ = ["StandardWebhooksConfig", "StandardWebhooksConnector", "payload_data"]

# RFC 9110 token characters: what an HTTP field name may consist of.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# What the HTTP client sends in a header value: tab, space, visible ASCII. Anything else would
# fail every delivery in the transport (httpx encodes ASCII, h11 refuses control characters).
HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Set by the connector or the signing plugin; a static header must not shadow them.
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "transfer-encoding",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


class StandardWebhooksConfig(ConnectorConfig):
    """Where the carrier receives Standard Webhooks, plus optional static headers."""

    url: str
    """The carrier's endpoint; http or https."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Static extra headers (e.g. a routing key); never the webhook-* ones."""


def payload_data(event: ConnectorEvent) -> dict[str, Any]:
    """The event as a carrier may see it: the recipient and pickup credentials stay home.

    Recipient data is the carrier's own, but an event push need not echo it back; the
    pickup code is for the recipient only.
    """
    data: dict[str, Any] = event.model_dump(
        mode="json", by_alias=True, exclude={"recipient", "access"}
    )
    return data


def check_http_url(connector: str, field: str, url: str) -> None:
    """ConnectorConfigError unless `url` is an absolute http(s) URL (never echoes the URL)."""
    try:
        parts = urlsplit(url)
        _ = parts.port  # a bad port raises ValueError
    except ValueError as err:
        raise ConnectorConfigError(f"{connector}: {field}: not a valid URL ({err})") from None
    if parts.scheme not in ("http", "https"):
        shown = parts.scheme or "none"
        raise ConnectorConfigError(
            f"{connector}: {field}: only http and https URLs are accepted (scheme: {shown})"
        )
    if not parts.hostname:
        raise ConnectorConfigError(f"{connector}: {field}: the URL names no host")


def check_events(connector: str, events: list[str] | None) -> None:
    """ConnectorConfigError for an `events` filter naming a type OLP does not have."""
    for index, name in enumerate(events or ()):
        if name not in OLP_EVENT_TYPES:
            raise ConnectorConfigError(
                f"{connector}: events[{index}]: unknown event type {name!r} "
                f"(known: {', '.join(OLP_EVENT_TYPES)})"
            )


def check_headers(connector: str, field: str, headers: dict[str, str]) -> None:
    """ConnectorConfigError for a malformed or reserved static header (values are not shown)."""
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name):
            raise ConnectorConfigError(f"{connector}: {field}.{name}: not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise ConnectorConfigError(
                f"{connector}: {field}.{name}: set by the gateway, cannot be configured"
            )
        if any(c in value for c in "\r\n\0"):
            raise ConnectorConfigError(
                f"{connector}: {field}.{name}: a header value cannot contain line breaks"
            )
        if not HEADER_VALUE.fullmatch(value):
            raise ConnectorConfigError(
                f"{connector}: {field}.{name}: a header value holds only visible ASCII, "
                "spaces and tabs"
            )


class StandardWebhooksConnector(Connector):
    """Renders each event as one signed-by-the-plugin JSON POST to `url`."""

    name: ClassVar[str] = "standard-webhooks"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.OUTBOUND_EVENTS})
    config_model: ClassVar[type[ConnectorConfig]] = StandardWebhooksConfig

    def __init__(self, *, config: ConnectorConfig) -> None:
        if not isinstance(config, StandardWebhooksConfig):
            raise ConnectorConfigError(f"{self.name}: expected a StandardWebhooksConfig")
        super().__init__(config=config)
        check_events(self.name, config.events)
        check_http_url(self.name, "url", config.url)
        check_headers(self.name, "headers", config.headers)
        self.settings = config

    def render(self, event: ConnectorEvent) -> HttpRequest:
        data = payload_data(event)
        payload = {"type": event.type, "timestamp": data["occurredAt"], "data": data}
        # Compact and key order fixed by the models: a retry signs and sends the same bytes.
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {**self.settings.headers, "content-type": "application/json"}
        return HttpRequest(url=self.settings.url, body=body, headers=headers)
