"""What a connector parses a carrier's own shipment JSON into: an OLP parcel announcement."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["InboundRequest", "ParcelStatusView"]


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """A carrier's request to `/v1/connectors/{id}/inbound`, authenticated and size-bound."""

    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ParcelStatusView:
    """A parcel and its history, for connectors that answer a carrier's status pull."""

    parcel: Mapping[str, Any]
    events: tuple[Mapping[str, Any], ...]


# A parse result is the body of `POST /v1/parcels` (create-parcel-request.json), as a dict:
# the gateway validates it against that schema and announces it through the same service as
# the API, so a connector cannot create anything the API could not.
Announcement = dict[str, Any]
