"""The connector contract: one class per carrier format, config as a model, capabilities declared.

A connector only maps. `render` turns an event into an outbound request; `parse_inbound` turns
a carrier's own shipment JSON into an announcement; `render_status` answers a status pull in the
carrier's vocabulary. None of them does I/O: the delivery engine owns sending, ordering,
retries, rate limits and dead letters, and the attachment's auth plugin owns credentials.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from gateway.sdk.connectors.errors import MappingError
from gateway.sdk.connectors.events import ConnectorEvent
from gateway.sdk.connectors.inbound import Announcement, InboundRequest, ParcelStatusView
from gateway.sdk.connectors.outbound import HttpRequest, Outbound
from gateway.sdk.connectors.scan import CarrierScanAnswer, ScanQueryView, ScanReply

__all__ = ["Capability", "Connector", "ConnectorConfig"]


class Capability(StrEnum):
    """What a connector can do; the gateway offers only the routes and loops it declares."""

    OUTBOUND_EVENTS = "outbound-events"  # render(): events pushed to the carrier
    INBOUND_PREADVICE = "inbound-pre-advice"  # parse_inbound(): the carrier's shipment JSON in
    STATUS_PULL = "status-pull"  # render_status(): the carrier asks for a parcel's status
    RECIPIENT_NOTIFICATIONS = "recipient-notifications"  # render() addresses the recipient
    SCAN_QUERY = "scan-query"  # render_scan_query()/parse_scan_answer(): an unknown scanned parcel


class ConnectorConfig(BaseModel):
    """Base of every connector's config model: strict, so a typo is an error at start-up.

    Secrets are `pydantic.SecretStr` fields: masked in repr, logs and `connectors list`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    events: list[str] | None = None
    """OLP event types to send (`parcel.ready_for_pickup`...); None sends every type."""


class Connector:
    """Subclass this, set the class attributes, override what the capabilities promise.

    Register the class under the entry-point group `openlocker.connectors`. The constructor
    gets the validated config and must raise `ConnectorConfigError` for anything the model
    cannot say (a mapping table that names an unknown event type, a template that does not
    compile): the gateway builds every attached connector at start-up, so such a mistake
    stops the process with a clear message instead of failing the first delivery.
    """

    name: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]]
    config_model: ClassVar[type[ConnectorConfig]] = ConnectorConfig

    def __init__(self, *, config: ConnectorConfig) -> None:
        self.config = config

    def wants(self, event_type: str) -> bool:
        """Whether an event of this type is queued for this connector at all."""
        return self.config.events is None or event_type in self.config.events

    def render(self, event: ConnectorEvent) -> Outbound:
        """The request that tells the carrier (or recipient) about `event`.

        Pure and deterministic for a given event (a retry sends the same body). Raise
        `SkipEvent` to settle it without sending, `MappingError` when it cannot be mapped.
        """
        raise NotImplementedError(f"connector {self.name!r} does not send events")

    def parse_inbound(self, request: InboundRequest) -> Announcement:
        """The carrier's shipment JSON as a `POST /v1/parcels` body (MappingError: which field)."""
        raise NotImplementedError(f"connector {self.name!r} takes no inbound pre-advice")

    def render_status(self, view: ParcelStatusView) -> dict[str, Any]:
        """The parcel's status in the carrier's own vocabulary."""
        raise NotImplementedError(f"connector {self.name!r} answers no status pull")

    def render_scan_query(self, query: ScanQueryView) -> HttpRequest:
        """The carrier's own request asking about a scanned parcel it never pre-advised."""
        raise NotImplementedError(f"connector {self.name!r} answers no scan query")

    def parse_scan_answer(self, reply: ScanReply) -> CarrierScanAnswer:
        """The carrier's answer as accept/refuse/unknown (MappingError: it cannot be read)."""
        raise NotImplementedError(f"connector {self.name!r} answers no scan query")

    @staticmethod
    def mapping_error(message: str, pointer: str = "") -> MappingError:
        return MappingError(message, pointer=pointer)
