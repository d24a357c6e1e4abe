"""What a connector is handed: one parcel event, with the parcel, its locker and (maybe) recipient.

`ConnectorEvent` is stored in the outbox at the transition (the same transaction) and rendered
at send time, so a corrected mapping applies to rows still queued. Its JSON form is published
as `schemas/v1/connector-event.json`; the members shared with `webhook-event.json` are the same.
The models are wire models (gateway.wire.connector_events, checked against the schema there);
`Recipient` is the very model `POST /v1/parcels` accepts (`common.json#/$defs/Recipient`).
"""

from __future__ import annotations

from gateway.wire.connector_events import AccessInfo, ConnectorEvent, LockerInfo
from gateway.wire.recipients import RecipientWire as Recipient

__all__ = ["AccessInfo", "ConnectorEvent", "LockerInfo", "Recipient"]
