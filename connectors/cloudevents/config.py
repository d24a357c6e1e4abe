"""The `cloudevents` connector's config: transport, content mode, endpoint or broker, templates.

The model checks types; `validate` checks what depends on several fields (binary mode needs
MQTT 5, a broker only for MQTT) and the templates, and names the field in its error.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.standard_webhooks.connector import check_events, check_headers, check_http_url
from gateway.sdk.connectors import (
    BrokerSpec,
    ConnectorConfig,
    ConnectorConfigError,
    template_placeholders,
)

__all__ = [
    "SOURCE_FIELDS",
    "TOPIC_FIELDS",
    "BrokerConfig",
    "CloudEventsConfig",
    "ContentMode",
    "TransportKind",
    "template_fields",
]

NAME = "cloudevents"
# What a template may name; each is an OLP identifier (no "/", "+" or "#" by its schema).
TOPIC_FIELDS = frozenset({"networkId", "carrierId", "parcelId", "lockerId", "type", "eventId"})
SOURCE_FIELDS = frozenset({"networkId", "carrierId"})
# Reverse-DNS labels: "org.openlocker", "com.carrier.lockers".
_TYPE_PREFIX = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*$")


class TransportKind(StrEnum):
    HTTP = "http"
    MQTT = "mqtt"


class ContentMode(StrEnum):
    """CloudEvents content modes: attributes in headers/properties, or all in the body."""

    BINARY = "binary"
    STRUCTURED = "structured"


class BrokerConfig(BaseModel):
    """The carrier's own MQTT broker (see gateway.sdk.connectors.BrokerSpec)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    """mqtt://host:port or mqtts://host:port; credentials go in username/password."""
    username: str | None = None
    password: SecretStr | None = None
    client_id: str | None = None
    """Fixed MQTT client id; by default each gateway instance picks its own."""
    protocol: Literal[4, 5] = 5
    """4 = MQTT 3.1.1 (structured mode only), 5 = MQTT 5."""
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def spec(self) -> BrokerSpec:
        return BrokerSpec(
            url=self.url,
            username=self.username,
            password=self.password,
            client_id=self.client_id,
            protocol=self.protocol,
            ca_file=self.ca_file,
            cert_file=self.cert_file,
            key_file=self.key_file,
        )


class CloudEventsConfig(ConnectorConfig):
    """CloudEvents 1.0 over HTTP (`url`) or over MQTT to the carrier's broker (`broker`)."""

    transport: TransportKind = TransportKind.HTTP
    mode: ContentMode = ContentMode.BINARY
    url: str | None = None
    """HTTP only: the carrier's endpoint, http or https."""
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP only: static extra headers."""
    broker: BrokerConfig | None = None
    """MQTT only: where to publish."""
    topic: str = "carriers/{carrierId}/parcels/{parcelId}/events"
    """MQTT only: topic template over {networkId} {carrierId} {parcelId} {lockerId} {type}
    {eventId}."""
    qos: Literal[0, 1] = 1
    source: str = "urn:openlocker:{networkId}"
    """The CloudEvents `source` URI; may name {networkId} and {carrierId}."""
    type_prefix: str = "org.openlocker"
    """`type` is `<type_prefix>.<OLP event type>`, e.g. org.openlocker.parcel.picked_up."""

    def validate_whole(self) -> None:
        """ConnectorConfigError naming the field for anything the types cannot say."""
        check_events(NAME, self.events)
        template_fields("source", self.source, SOURCE_FIELDS)
        if not self.source.strip():
            raise ConnectorConfigError(f"{NAME}: source: must not be empty")
        if not _TYPE_PREFIX.match(self.type_prefix):
            raise ConnectorConfigError(
                f"{NAME}: type_prefix: expected reverse-DNS labels like 'org.openlocker'"
            )
        if self.transport is TransportKind.HTTP:
            self._validate_http()
        else:
            self._validate_mqtt()

    def _validate_http(self) -> None:
        if self.url is None:
            raise ConnectorConfigError(f"{NAME}: url: required for transport 'http'")
        check_http_url(NAME, "url", self.url)
        check_headers(NAME, "headers", self.headers)
        for header in self.headers:
            if header.lower().startswith("ce-"):
                raise ConnectorConfigError(
                    f"{NAME}: headers.{header}: ce- headers carry the event's attributes"
                )
        if self.broker is not None:
            raise ConnectorConfigError(f"{NAME}: broker: only for transport 'mqtt'")

    def _validate_mqtt(self) -> None:
        if self.broker is None:
            raise ConnectorConfigError(f"{NAME}: broker: required for transport 'mqtt'")
        if self.url is not None or self.headers:
            field = "url" if self.url is not None else "headers"
            raise ConnectorConfigError(f"{NAME}: {field}: only for transport 'http'")
        _check_broker_url(self.broker.url)
        if self.broker.key_file is not None and self.broker.cert_file is None:
            raise ConnectorConfigError(f"{NAME}: broker.key_file: needs broker.cert_file too")
        if self.mode is ContentMode.BINARY and self.broker.protocol == 4:
            # MQTT 3.1.1 has no user properties to carry the attributes in (MQTT binding 1.3).
            raise ConnectorConfigError(
                f"{NAME}: mode: binary mode needs MQTT 5; with broker.protocol 4 "
                "(MQTT 3.1.1) use mode 'structured'"
            )
        template_fields("topic", self.topic, TOPIC_FIELDS)
        if not self.topic or self.topic.startswith("$") or any(c in self.topic for c in "+#\0"):
            raise ConnectorConfigError(
                f"{NAME}: topic: must be non-empty, not start with '$' and have no wildcards"
            )


def template_fields(field: str, template: str, allowed: frozenset[str]) -> set[str]:
    """The placeholders of a `{name}` template; ConnectorConfigError for any other syntax."""
    return template_placeholders(f"{NAME}: {field}", template, allowed)


def _check_broker_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        _ = parts.port  # a bad port raises ValueError
    except ValueError as err:
        raise ConnectorConfigError(f"{NAME}: broker.url: not a valid URL ({err})") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConnectorConfigError(
            f"{NAME}: broker.url: expected mqtt://host:port or mqtts://host:port"
        )
    if parts.username or parts.password:
        raise ConnectorConfigError(
            f"{NAME}: broker.url: put credentials in broker.username and broker.password"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConnectorConfigError(f"{NAME}: broker.url: only scheme, host and port")
