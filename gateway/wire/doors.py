"""Wire models of door openings and keypad codes (open-result.json, access-code.json...)."""

from __future__ import annotations

from pydantic import Field

from gateway.domain.door import OpenOutcome, OpenPurpose
from gateway.domain.enums import ParcelState
from gateway.wire.base import UtcDateTime, WireModel


class OpenParcelIn(WireModel):
    """An empty body: the purpose follows from the parcel's state."""


class IssueCodeIn(WireModel):
    """An empty body: the purpose follows from the parcel's state."""


class OpenResultOut(WireModel):
    outcome: OpenOutcome
    purpose: OpenPurpose
    locker_id: str = Field(alias="lockerId")
    compartment_code: str = Field(alias="compartmentCode")
    parcel_state: ParcelState = Field(alias="parcelState")


class AccessCodeOut(WireModel):
    code: str
    purpose: OpenPurpose
    locker_id: str = Field(alias="lockerId")
    expires_at: UtcDateTime = Field(alias="expiresAt")
