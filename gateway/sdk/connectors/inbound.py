"""What a connector parses a carrier's own shipment JSON into: an OLP parcel announcement."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gateway.sdk.schemas import load_schemas

__all__ = ["InboundRequest", "ParcelStatusView", "SourcedAnnouncement", "announcement_schema"]


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


class SourcedAnnouncement(dict[str, Any]):
    """An announcement that remembers where its members came from in the carrier's document.

    `sources` maps a JSON pointer into the announcement ("/lockerId") to one into the
    carrier's JSON ("/shipment/receiver/lockerCode"), so that when the gateway's own checks
    reject a member, the problem names the field the carrier actually sent.
    """

    def __init__(self, members: Mapping[str, Any], *, sources: Mapping[str, str]) -> None:
        super().__init__(members)
        self.sources = dict(sources)


@functools.cache
def announcement_schema() -> Mapping[str, Any]:
    """The published JSON Schema of an announcement (create-parcel-request.json), read-only.

    Mapping connectors check their target members against it at start-up.
    """
    return MappingProxyType(dict(load_schemas().schema("create-parcel-request")))
