"""The `cloudevents` connector: OLP events as CloudEvents 1.0 over HTTP or MQTT."""

from connectors.cloudevents.config import (
    BrokerConfig,
    CloudEventsConfig,
    ContentMode,
    TransportKind,
)
from connectors.cloudevents.connector import CloudEventsConnector

__all__ = [
    "BrokerConfig",
    "CloudEventsConfig",
    "CloudEventsConnector",
    "ContentMode",
    "TransportKind",
]
