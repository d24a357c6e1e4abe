"""What a connector is handed: one parcel event, with the parcel, its locker and (maybe) recipient.

`ConnectorEvent` is stored in the outbox at the transition (the same transaction) and rendered
at send time, so a corrected mapping applies to rows still queued. Its JSON form is published
as `schemas/v1/connector-event.json`; the members shared with `webhook-event.json` are the same.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.parcels import ParcelEventOut, ParcelOut

__all__ = ["AccessInfo", "ConnectorEvent", "LockerInfo", "Recipient"]


class LockerInfo(WireModel):
    """Where the parcel is: enough for a carrier's "at pickup point X" or an EPCIS bizLocation."""

    locker_id: str = Field(alias="lockerId")
    name: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = None


class Recipient(WireModel):
    """Personal data, present only where the carrier sent it; never logged."""

    # repr=False: a connector's log line or traceback that shows the event must not show them.
    name: str | None = Field(default=None, max_length=200, repr=False)
    email: str | None = Field(
        default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", repr=False
    )
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$", repr=False)  # E.164
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    opt_out: bool = Field(default=False, alias="optOut")


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
    recipient: Recipient | None = None
    access: AccessInfo | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConnectorEvent:
        return cls.model_validate(data)
