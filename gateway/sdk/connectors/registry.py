"""Connectors are found through the `openlocker.connectors` entry-point group, built-in or not."""

from __future__ import annotations

from importlib.metadata import entry_points

from gateway.sdk.connectors.base import Connector
from gateway.sdk.connectors.errors import ConnectorConfigError

CONNECTOR_ENTRY_POINT_GROUP = "openlocker.connectors"


def available_connectors() -> list[str]:
    """The names of every installed connector, built-in or third-party."""
    return sorted(ep.name for ep in entry_points(group=CONNECTOR_ENTRY_POINT_GROUP))


def load_connector_class(name: str) -> type[Connector]:
    """The connector class registered as `name`; ConnectorConfigError when there is none."""
    matches = [ep for ep in entry_points(group=CONNECTOR_ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        known = ", ".join(available_connectors()) or "none installed"
        raise ConnectorConfigError(f"no connector {name!r} (known: {known})")
    loaded = matches[0].load()
    if not (isinstance(loaded, type) and issubclass(loaded, Connector)):
        raise ConnectorConfigError(f"entry point {name!r} does not name a Connector class")
    return loaded
