"""Recipient self-service bodies: the carrier's link, the recipient's view and requests."""

from __future__ import annotations

from pydantic import Field

from gateway.domain.enums import ParcelState
from gateway.wire.base import UtcDateTime, WireModel


class SelfServiceLinkOut(WireModel):
    url: str
    token: str
    expires_at: UtcDateTime = Field(alias="expiresAt")


class SelfServiceLockerOut(WireModel):
    locker_id: str = Field(alias="lockerId")
    name: str | None
    address: str | None


class SelfServiceParcelOut(WireModel):
    """One parcel as its recipient sees it through the link: no carrier data, no personal data."""

    parcel_id: str = Field(alias="parcelId")
    state: ParcelState
    locker: SelfServiceLockerOut
    pickup_until: UtcDateTime | None = Field(alias="pickupUntil")
    link_expires_at: UtcDateTime = Field(alias="linkExpiresAt")
    extension_days_available: int = Field(alias="extensionDaysAvailable")
    extended_at: UtcDateTime | None = Field(alias="extendedAt")
    codes_left: int = Field(alias="codesLeft")
    can_redirect: bool = Field(alias="canRedirect")
    redirect_locker_id: str | None = Field(alias="redirectLockerId")


class SelfServiceExtendIn(WireModel):
    days: int | None = None


class SelfServiceRedirectIn(WireModel):
    locker_id: str = Field(alias="lockerId")
