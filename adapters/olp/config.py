"""Configuration of the `olp` adapter."""

from __future__ import annotations

from pydantic import Field

from gateway.sdk import AdapterConfig


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
