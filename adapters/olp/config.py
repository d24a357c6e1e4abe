"""Configuration of the `olp` adapter."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator

from gateway.sdk import AdapterConfig
from gateway.sdk.mqtt import BrokerAddress, ConnectionOptions, TlsFiles, topics


class OlpConfig(AdapterConfig):
    mqtt_url: str = Field(default="mqtt://127.0.0.1:1883", description="mqtt:// or mqtts://")
    instance: str = Field(
        default="gw-1",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="This gateway instance's name: replies to its commands come to its topic.",
    )
    protocol_version: int = Field(default=5, description="4 (MQTT 3.1.1) or 5")
    shared_subscriptions: bool = Field(
        default=True,
        description="Share events among instances ($share); off for brokers without it.",
    )
    session_expiry_s: int = Field(
        default=3600,
        ge=0,
        le=2**32 - 1,
        description="How long the broker keeps this instance's MQTT session, and queues what "
        "comes for it, after its connection ends; 0 ends the session with the connection. "
        "Behind shared subscriptions set 0: the broker keeps routing a share of every "
        "locker's events to a dead instance's live session until it returns.",
    )
    max_message_bytes: int = Field(default=64 * 1024, ge=1024)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    lane_capacity: int = Field(
        default=256,
        ge=1,
        description="Messages held per locker before it is refused (a call is answered "
        "Unavailable, a journaled event comes back by replay): a flooding locker cannot grow "
        "memory without bound or hold up another.",
    )
    username: str | None = Field(
        default=None, description="MQTT user; overrides a user in the URL."
    )
    password: SecretStr | None = Field(
        default=None, description="MQTT password; overrides a password in the URL."
    )
    tls_ca_file: Path | None = Field(default=None, description="PEM CA of the broker (mqtts://)")
    tls_cert_file: Path | None = Field(default=None, description="PEM client cert (mutual TLS)")
    tls_key_file: Path | None = Field(default=None, description="PEM key of the client cert")
    tls_insecure: bool = Field(
        default=False, description="Skip the broker's host name check (chain still verified)."
    )

    @model_validator(mode="after")
    def _tls_needs_mqtts(self) -> Self:
        # Certificates with a plain mqtt:// URL would be silently unused: say so instead.
        tls_set = any((self.tls_ca_file, self.tls_cert_file, self.tls_key_file, self.tls_insecure))
        if tls_set and not self.mqtt_url.startswith(("mqtts://", "ssl://")):
            # The URL is not echoed: it may carry a password.
            raise ValueError("MQTT TLS settings need an mqtts:// broker URL")
        return self

    def broker_address(self) -> BrokerAddress:
        """The URL's address, with `username`/`password` taking the place of the URL's own."""
        address = BrokerAddress.parse(self.mqtt_url)
        password = self.password.get_secret_value() if self.password is not None else None
        return replace(
            address,
            username=self.username or address.username,
            password=password or address.password,
        )

    def connection_options(self, tls_context: ssl.SSLContext | None = None) -> ConnectionOptions:
        """The instance's MQTT session: its subscriptions, and a persistent session unless
        `session_expiry_s` is 0 (then the broker forgets it, and its share of the events
        goes to the live instances, when its connection ends)."""
        return ConnectionOptions(
            address=self.broker_address(),
            client_id=f"openlocker-{self.instance}",
            protocol_version=self.protocol_version,
            subscriptions=topics.gateway_subscriptions(
                self.instance, shared_events=self.shared_subscriptions
            ),
            tls_context=tls_context,
            persistent_session=self.session_expiry_s > 0,
            session_expiry_s=self.session_expiry_s,
        )

    def tls_files(self) -> TlsFiles:
        return TlsFiles(
            ca_file=self.tls_ca_file,
            cert_file=self.tls_cert_file,
            key_file=self.tls_key_file,
            insecure=self.tls_insecure,
        )
