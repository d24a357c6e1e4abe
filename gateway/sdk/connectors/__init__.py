"""The public connector SDK: everything a carrier connector may import from OpenLocker.

A connector is one `Connector` subclass registered under the entry-point group
`openlocker.connectors`; it maps events to requests and carriers' JSON to announcements, and
never does I/O. `gateway.sdk.testing.connectors` is the conformance kit; the guide is
docs/connectors/GUIDE.md.
"""

from gateway.sdk.connectors.base import Capability, Connector, ConnectorConfig
from gateway.sdk.connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    MappingError,
    SkipEvent,
)
from gateway.sdk.connectors.events import AccessInfo, ConnectorEvent, LockerInfo, Recipient
from gateway.sdk.connectors.inbound import (
    Announcement,
    InboundRequest,
    ParcelStatusView,
    SourcedAnnouncement,
    announcement_schema,
)
from gateway.sdk.connectors.outbound import (
    BrokerSpec,
    EmailMessage,
    HttpRequest,
    MqttPublish,
    Outbound,
    SmtpSpec,
)
from gateway.sdk.connectors.placeholders import template_placeholders
from gateway.sdk.connectors.registry import (
    CONNECTOR_ENTRY_POINT_GROUP,
    available_connectors,
    load_connector_class,
)
from gateway.sdk.connectors.scan import (
    CarrierScanAnswer,
    ScanQueryView,
    ScanReply,
    ScanVerdict,
)
from gateway.sdk.connectors.vocabulary import OLP_EVENT_TYPES, PICKUP_REMINDER

__all__ = [
    "CONNECTOR_ENTRY_POINT_GROUP",
    "OLP_EVENT_TYPES",
    "PICKUP_REMINDER",
    "AccessInfo",
    "Announcement",
    "BrokerSpec",
    "Capability",
    "CarrierScanAnswer",
    "Connector",
    "ConnectorConfig",
    "ConnectorConfigError",
    "ConnectorError",
    "ConnectorEvent",
    "EmailMessage",
    "HttpRequest",
    "InboundRequest",
    "LockerInfo",
    "MappingError",
    "MqttPublish",
    "Outbound",
    "ParcelStatusView",
    "Recipient",
    "ScanQueryView",
    "ScanReply",
    "ScanVerdict",
    "SkipEvent",
    "SmtpSpec",
    "SourcedAnnouncement",
    "announcement_schema",
    "available_connectors",
    "load_connector_class",
    "template_placeholders",
]
