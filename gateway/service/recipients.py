"""Who gets a parcel's recipient: only connectors that notify recipients, never other targets."""

from __future__ import annotations

import functools

from gateway.domain.parcel import Parcel
from gateway.sdk.connectors import Capability, ConnectorConfigError, Recipient, load_connector_class

__all__ = ["connector_notifies", "connector_recipient"]


@functools.cache
def connector_notifies(connector: str) -> bool:
    """Whether the connector registered as `connector` declares recipient notifications."""
    try:
        return Capability.RECIPIENT_NOTIFICATIONS in load_connector_class(connector).capabilities
    except ConnectorConfigError:
        return False  # not installed: the attachment cannot be built, nor handed anything


def connector_recipient(parcel: Parcel) -> Recipient | None:
    """The parcel's recipient as a `ConnectorEvent` carries it (to notifiers only)."""
    if parcel.recipient is None:
        return None
    return Recipient.from_domain(parcel.recipient)
