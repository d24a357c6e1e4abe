"""What the settings tests share: the flat keys of before the grouping, and sample values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The fields of the flat `Settings` class as it was before issue 11, minus the five that stay
# at the top (network_id, instance, spec_dir, adapters, connectors). Copied, not derived: the
# old class is gone, and this list is the promise that every one of them still works.
OLD_FLAT_KEYS = [
    "database_url",
    "http_host",
    "http_port",
    "max_body_bytes",
    "max_token_bytes",
    "carrier_token_max_lifetime_s",
    "clock_skew_s",
    "key_publish_lead_s",
    "grant_max_lifetime_s",
    "reservation_ttl_s",
    "pickup_window_s",
    "idempotency_retention_s",
    "housekeeping_interval_s",
    "reminder_lead_s",
    "mqtt_url",
    "mqtt_username",
    "mqtt_password",
    "mqtt_tls_ca_file",
    "mqtt_tls_cert_file",
    "mqtt_tls_key_file",
    "mqtt_tls_insecure",
    "embedded_mqtt_host",
    "embedded_mqtt_port",
    "mqtt_protocol",
    "mqtt_shared_subscriptions",
    "open_timeout_s",
    "heartbeat_interval_s",
    "key_push_interval_s",
    "key_version_poll_s",
    "key_push_timeout_s",
    "keypad_max_failures",
    "keypad_failure_window_s",
    "keypad_lockout_base_s",
    "keypad_lockout_cap_s",
    "keypad_quiet_reset_s",
    "webhook_poll_interval_s",
    "webhook_timeout_s",
    "webhook_lease_s",
    "webhook_max_attempts",
    "webhook_backoff_base_s",
    "webhook_backoff_cap_s",
    "webhook_max_in_flight",
    "webhook_breaker_failures",
    "webhook_breaker_reset_s",
    "webhook_max_subscriptions",
    "webhook_retention_s",
]

# A valid value for each, different from its default, as an operator would have written it.
SAMPLES: dict[str, Any] = {
    "database_url": "postgresql://openlocker@db.example/openlocker",
    "http_host": "0.0.0.0",
    "http_port": 8443,
    "max_body_bytes": 128 * 1024,
    "max_token_bytes": 2048,
    "carrier_token_max_lifetime_s": 120,
    "clock_skew_s": 10,
    "key_publish_lead_s": 600,
    "grant_max_lifetime_s": 7200,
    "reservation_ttl_s": 3600,
    "pickup_window_s": 48 * 3600,
    "idempotency_retention_s": 7200,
    "housekeeping_interval_s": 12.5,
    "reminder_lead_s": 0,
    "mqtt_url": "mqtts://broker.example:8883",
    "mqtt_username": "gw",
    "mqtt_password": "mqtt-secret",
    "mqtt_tls_ca_file": "/etc/openlocker/ca.pem",
    "mqtt_tls_cert_file": "/etc/openlocker/gw.pem",
    "mqtt_tls_key_file": "/etc/openlocker/gw-key.pem",
    "mqtt_tls_insecure": True,
    "embedded_mqtt_host": "0.0.0.0",
    "embedded_mqtt_port": 2883,
    "mqtt_protocol": 4,
    "mqtt_shared_subscriptions": False,
    "open_timeout_s": 2.5,
    "heartbeat_interval_s": 30,
    "key_push_interval_s": 120.0,
    "key_version_poll_s": 0.5,
    "key_push_timeout_s": 20,
    "keypad_max_failures": 3,
    "keypad_failure_window_s": 120,
    "keypad_lockout_base_s": 30,
    "keypad_lockout_cap_s": 600,
    "keypad_quiet_reset_s": 900,
    "webhook_poll_interval_s": 0.25,
    "webhook_timeout_s": 20,
    "webhook_lease_s": 90,
    "webhook_max_attempts": 5,
    "webhook_backoff_base_s": 2,
    "webhook_backoff_cap_s": 600,
    "webhook_max_in_flight": 8,
    "webhook_breaker_failures": 9,
    "webhook_breaker_reset_s": 45,
    "webhook_max_subscriptions": 20,
    "webhook_retention_s": 7 * 24 * 3600,
}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string, for these plain values
    return str(value)


def env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
