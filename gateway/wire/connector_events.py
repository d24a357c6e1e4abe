"""`connector-event.json`: the parcel event every connector is handed and the outbox stores."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.parcels import ParcelEventOut, ParcelOut
from gateway.wire.recipients import RecipientWire

__all__ = ["AccessInfo", "ConnectorEvent", "LockerInfo"]


class LockerInfo(WireModel):
    """Where the parcel is: enough for a carrier's "at pickup point X" or an EPCIS bizLocation."""

    locker_id: str = Field(alias="lockerId")
    name: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = None


class AccessInfo(WireModel):
    """A pickup credential the engine issued for this very delivery (notifiers only)."""

    # Bearer credentials for a door: never in a repr (a log line, a traceback).
    code: str | None = Field(default=None, repr=False)
    grant: str | None = Field(default=None, repr=False)
    qr: str | None = Field(default=None, repr=False)
    expires_at: UtcDateTime | None = Field(default=None, alias="expiresAt")


class ConnectorEvent(WireModel):
    """One parcel event as every connector sees it; `eventId` is what receivers dedupe on."""

    event_id: str = Field(alias="eventId")
    type: str
    occurred_at: UtcDateTime = Field(alias="occurredAt")
    network_id: str = Field(alias="networkId")
    carrier_id: str = Field(alias="carrierId")
    parcel: ParcelOut
    event: ParcelEventOut
    locker: LockerInfo | None = None
    recipient: RecipientWire | None = None
    access: AccessInfo | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConnectorEvent:
        return cls.model_validate(data)
