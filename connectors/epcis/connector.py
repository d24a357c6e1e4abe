"""The `epcis` connector: each OLP event as a GS1 EPCIS 2.0 JSON-LD document with one ObjectEvent.

What the event says comes from the published table (olp-to-gs1-cbv.json): CBV business step
and disposition, written as bare CBV terms as EPCIS 2.0 JSON-LD wants them, and whether the
parcel is at the locker (readPoint, bizLocation). The parcel is the one member of `epcList`,
named by a configurable URI template; `eventID` is `urn:uuid:<eventId>`. The document is a
pure function of the event (creationDate = occurredAt), so a retry sends the same bytes.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.epcis.config import EpcisConfig
from connectors.epcis.vocabulary import CbvMapping, Location, load_vocabulary
from gateway.sdk.connectors import (
    Capability,
    Connector,
    ConnectorConfig,
    ConnectorConfigError,
    ConnectorEvent,
    HttpRequest,
    MappingError,
    SkipEvent,
)

__all__ = ["EPCIS_CONTEXT", "OLP_NAMESPACE", "EpcisConnector"]

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
OLP_NAMESPACE = "https://openlocker.dev/olp/v1/epcis#"
"""The `olp:` prefix of our extension members, declared in each document's @context."""


class EpcisConnector(Connector):
    """Renders an event as an EPCISDocument POSTed to the carrier (or its capture interface)."""

    name: ClassVar[str] = "epcis"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.OUTBOUND_EVENTS})
    config_model: ClassVar[type[ConnectorConfig]] = EpcisConfig

    def __init__(self, *, config: ConnectorConfig) -> None:
        if not isinstance(config, EpcisConfig):
            raise ConnectorConfigError(f"{self.name}: expected an EpcisConfig")
        super().__init__(config=config)
        self.settings = config
        self.parcel_uri, self.location_uri = config.validate_whole()
        self.vocabulary = load_vocabulary()
        for event_type in config.events or ():
            if event_type in self.vocabulary.unmapped:
                raise ConnectorConfigError(
                    f"{self.name}: events: {event_type!r} is not a visibility event and "
                    "has no EPCIS mapping (see olp-to-gs1-cbv.json)"
                )
        self.lifecycle = config.lifecycle()
        self.url = config.endpoint()
        self.headers = {
            "Content-Type": config.content_type,
            "GS1-EPCIS-Version": "2.0.0",
            "GS1-CBV-Version": "2.0.0",
            **config.headers,
        }

    def wants(self, event_type: str) -> bool:
        # An unmapped type (the pickup reminder) is not even queued for this connector.
        return super().wants(event_type) and event_type in self.vocabulary.mappings

    def render(self, event: ConnectorEvent) -> HttpRequest:
        body = json.dumps(self.document(event), ensure_ascii=False, separators=(",", ":"))
        return HttpRequest(url=self.url, body=body.encode(), headers=dict(self.headers))

    def document(self, event: ConnectorEvent) -> dict[str, Any]:
        """The EPCISDocument for `event` (SkipEvent for a type with no EPCIS mapping)."""
        mapping = self._mapping(event.type)
        context: list[Any] = [EPCIS_CONTEXT]
        if self.settings.olp_extensions:
            context.append({"olp": OLP_NAMESPACE})
        return {
            "@context": context,
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": _time(event.occurred_at),
            "epcisBody": {"eventList": [self.object_event(event, mapping)]},
        }

    def object_event(self, event: ConnectorEvent, mapping: CbvMapping) -> dict[str, Any]:
        action = self.action(event)
        parcel = event.parcel
        body: dict[str, Any] = {
            "type": "ObjectEvent",
            "eventID": _event_id(event.event_id),
            "eventTime": _time(event.occurred_at),
            "eventTimeZoneOffset": _offset(event),
            "epcList": [self._parcel_uri(event, parcel.parcel_id)],
            "action": action,
            "bizStep": mapping.biz_step,
            "disposition": mapping.disposition,
        }
        if mapping.location is not Location.ELSEWHERE:
            locker = self.location_uri.render(
                {"networkId": event.network_id, "lockerId": parcel.locker_id}
            )
            body["readPoint"] = {"id": locker}
            if mapping.location is Location.AT_LOCKER:
                body["bizLocation"] = {"id": locker}
        if self.settings.olp_extensions:
            body.update(self._extensions(event, action))
        return body

    def action(self, event: ConnectorEvent) -> str:
        """ADD/OBSERVE/DELETE: ADD and DELETE only for an id the gateway mints (lifecycle).

        EPCIS ADD says the object was commissioned by this event and DELETE that it was
        decommissioned and must not be seen again. For a carrier's own id (an SSCC) neither
        is the locker's to say, so it observes; for a urn:openlocker: id the gateway's first
        event (seq 1) creates it and a terminal event is its last.
        """
        if not self.lifecycle:
            return "OBSERVE"
        if event.event.seq == 1:
            return "ADD"
        if event.type in self.vocabulary.terminal:
            return "DELETE"
        return "OBSERVE"

    def _mapping(self, event_type: str) -> CbvMapping:
        mapping = self.vocabulary.mappings.get(event_type)
        if mapping is not None:
            return mapping
        if event_type in self.vocabulary.unmapped:
            raise SkipEvent(f"{event_type} is not a visibility event; no EPCIS mapping")
        raise MappingError(f"unknown OLP event type {event_type!r}", pointer="/type")

    def _parcel_uri(self, event: ConnectorEvent, parcel_id: str) -> str:
        return self.parcel_uri.render(
            {"networkId": event.network_id, "carrierId": event.carrier_id, "parcelId": parcel_id}
        )

    def _extensions(self, event: ConnectorEvent, action: str) -> dict[str, Any]:
        """`olp:` members: what EPCIS has no field for. Never recipient data."""
        parcel = event.parcel
        extra: dict[str, Any] = {"olp:eventType": event.type, "olp:sequence": event.event.seq}
        if parcel.compartment_code is not None:
            extra["olp:compartment"] = parcel.compartment_code
        if event.type == "parcel.ready_for_pickup" and parcel.pickup_until is not None:
            extra["olp:pickupUntil"] = _time(parcel.pickup_until)
        if parcel.redirected_to is not None:
            extra["olp:redirectedTo"] = self._parcel_uri(event, parcel.redirected_to)
        if parcel.redirected_from is not None:
            extra["olp:redirectedFrom"] = self._parcel_uri(event, parcel.redirected_from)
        if event.event.details.get("fault") is True:
            extra["olp:doorFault"] = True
        if action == "ADD":
            # ILMD describes the object an ADD creates: what the carrier booked for it.
            ilmd: dict[str, Any] = {}
            requested = parcel.requested
            if requested.size_class is not None:
                ilmd["olp:sizeClass"] = str(requested.size_class)
            if requested.weight_g is not None:
                ilmd["olp:weightG"] = requested.weight_g
            ilmd["olp:direction"] = str(parcel.direction)
            extra["ilmd"] = ilmd
        return extra


def _event_id(event_id: str) -> str:
    """`urn:uuid:` for a UUID (the gateway's ids are); an opaque id stays unique as a URN."""
    try:
        return uuid.UUID(event_id).urn
    except ValueError:
        return f"urn:openlocker:event:{quote(event_id, safe='')}"


def _time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _offset(event: ConnectorEvent) -> str:
    """The locker's UTC offset at eventTime, ±HH:MM; +00:00 when it has no (known) zone.

    Informational only (eventTime is UTC): an unknown zone name must not dead-letter events.
    """
    name = event.locker.timezone if event.locker is not None else None
    if not name:
        return "+00:00"
    try:
        delta = event.occurred_at.astimezone(ZoneInfo(name)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return "+00:00"
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"
