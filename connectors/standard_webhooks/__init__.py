"""The `standard-webhooks` connector: OLP events as Standard Webhooks 1.0 (docs/connectors/)."""

from connectors.standard_webhooks.connector import (
    StandardWebhooksConfig,
    StandardWebhooksConnector,
)

__all__ = ["StandardWebhooksConfig", "StandardWebhooksConnector"]
