"""Configuration of the `olp` adapter."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator

from gateway.sdk import AdapterConfig
from gateway.sdk.mqtt import BrokerAddress, TlsFiles


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

    def tls_files(self) -> TlsFiles:
        return TlsFiles(
            ca_file=self.tls_ca_file,
            cert_file=self.tls_cert_file,
            key_file=self.tls_key_file,
            insecure=self.tls_insecure,
        )
