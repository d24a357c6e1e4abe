"""Connectors are found through the `openlocker.connectors` entry-point group, built-in or not."""

from __future__ import annotations

from gateway.sdk.connectors.base import Connector
from gateway.sdk.connectors.errors import ConnectorConfigError
from gateway.sdk.registry import load_registered, registered_names

CONNECTOR_ENTRY_POINT_GROUP = "openlocker.connectors"


def available_connectors() -> list[str]:
    """The names of every installed connector, built-in or third-party."""
    return registered_names(CONNECTOR_ENTRY_POINT_GROUP)


def load_connector_class(name: str) -> type[Connector]:
    """The connector class registered as `name`; ConnectorConfigError when there is none."""
    loaded = load_registered(
        CONNECTOR_ENTRY_POINT_GROUP,
        name,
        what="connector",
        class_name="Connector",
        fits=lambda obj: isinstance(obj, type) and issubclass(obj, Connector),
        error=ConnectorConfigError,
    )
    assert isinstance(loaded, type)  # `fits` checked it
    assert issubclass(loaded, Connector)
    return loaded
