"""The `olp-webhooks` connector: OLP's own signed webhook format (SPEC.md section 10)."""

from connectors.olp_webhooks.connector import OlpWebhooksConfig, OlpWebhooksConnector

__all__ = ["OlpWebhooksConfig", "OlpWebhooksConnector"]
