"""What a connector renders an event into: a request the engine sends, never sends itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr

__all__ = ["BrokerSpec", "EmailMessage", "HttpRequest", "MqttPublish", "Outbound", "SmtpSpec"]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An HTTP call. The attachment's auth plugin signs or authorises it just before sending."""

    url: str
    body: bytes
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class BrokerSpec:
    """A carrier's own MQTT broker; the engine keeps one connection per distinct spec."""

    url: str  # mqtt://host:port or mqtts://host:port
    username: str | None = None
    password: SecretStr | None = None
    client_id: str | None = None
    protocol: int = 5  # 4 = MQTT 3.1.1, 5 = MQTT 5
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None


@dataclass(frozen=True, slots=True)
class MqttPublish:
    """One message to a carrier's broker, QoS 1 unless said otherwise."""

    broker: BrokerSpec
    topic: str
    payload: bytes
    qos: int = 1
    content_type: str | None = None
    user_properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SmtpSpec:
    """The SMTP server a notifier submits to."""

    host: str
    port: int = 587
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True
    use_tls: bool = False
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """A finished e-mail: the engine only submits it (aiosmtplib)."""

    smtp: SmtpSpec
    sender: str
    to: str
    subject: str
    text: str
    html: str | None = None
    # (filename, MIME type, bytes), e.g. the pickup QR code as PNG, referenced by cid in html.
    inline: tuple[tuple[str, str, bytes], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)


Outbound = HttpRequest | MqttPublish | EmailMessage
