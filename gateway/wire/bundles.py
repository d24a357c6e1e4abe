"""Wire models of bundles: the booking request, the bundle, its code and its webhook event."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gateway.domain.bundles import Bundle, BundleState
from gateway.domain.enums import ParcelState
from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.common import SizedIn
from gateway.wire.recipients import RecipientWire
from gateway.wire.webhooks import CarrierEventOut


class BundleParcelIn(SizedIn):
    parcel_id: str = Field(alias="parcelId")
    reference: str | None = None


class CreateBundleIn(WireModel):
    bundle_id: str = Field(alias="bundleId")
    locker_id: str = Field(alias="lockerId")
    parcels: list[BundleParcelIn]
    reservation_ttl_seconds: int | None = Field(default=None, alias="reservationTtlSeconds")
    pickup_window_seconds: int | None = Field(default=None, alias="pickupWindowSeconds")
    reference: str | None = None
    recipient: RecipientWire | None = None


class BundleParcelStatusOut(WireModel):
    parcel_id: str = Field(alias="parcelId")
    state: ParcelState
    compartment_code: str | None = Field(default=None, alias="compartmentCode")
    updated_at: UtcDateTime = Field(alias="updatedAt")


class BundleCountsOut(WireModel):
    total: int
    waiting: int
    in_locker: int = Field(alias="inLocker")
    picked_up: int = Field(alias="pickedUp")


class BundleOut(WireModel):
    bundle_id: str = Field(alias="bundleId")
    locker_id: str = Field(alias="lockerId")
    state: BundleState
    parcels: list[BundleParcelStatusOut]
    counts: BundleCountsOut
    reference: str | None = None
    created_at: UtcDateTime = Field(alias="createdAt")
    updated_at: UtcDateTime = Field(alias="updatedAt")


BundlePurpose = Literal["deposit", "pickup"]


class IssueBundleCodeIn(WireModel):
    purpose: BundlePurpose | None = None


class BundleCodeOut(WireModel):
    code: str
    purpose: BundlePurpose
    bundle_id: str = Field(alias="bundleId")
    locker_id: str = Field(alias="lockerId")
    parcel_ids: list[str] = Field(alias="parcelIds")
    compartment_codes: list[str] = Field(alias="compartmentCodes")
    expires_at: UtcDateTime = Field(alias="expiresAt")


class IssueBundleGrantIn(WireModel):
    purpose: BundlePurpose | None = None


class BundleGrantOut(WireModel):
    """bundle-grant.json: the signed bundle grant and what it binds."""

    token: str
    qr: str
    action: BundlePurpose
    bundle_id: str = Field(alias="bundleId")
    locker_id: str = Field(alias="lockerId")
    parcel_ids: list[str] = Field(alias="parcelIds")
    compartment_codes: list[str] = Field(alias="compartmentCodes")
    not_before: UtcDateTime = Field(alias="notBefore")
    expires_at: UtcDateTime = Field(alias="expiresAt")
    kid: str


class BundleGrantClaimsWire(WireModel):
    """bundle-grant-claims.json: the JWT claims set inside a bundle grant (NumericDate seconds)."""

    iss: str
    aud: str
    sub: str
    cmps: list[str]
    act: BundlePurpose
    nbf: int
    exp: int
    iat: int
    jti: str


class WebhookBundleEventOut(CarrierEventOut):
    """The body POSTed for a bundle's progress: some or all of its parcels picked up."""

    picked_up: str | None = Field(default=None, alias="pickedUp")
    bundle: BundleOut


def bundle_to_wire(bundle: Bundle) -> BundleOut:
    """The carrier's view of a bundle: every parcel's own state (a partial pickup shows)."""
    return BundleOut(
        bundle_id=bundle.bundle_id,
        locker_id=bundle.locker_id,
        state=bundle.state,
        parcels=[
            BundleParcelStatusOut(
                parcel_id=p.parcel_id,
                state=p.state,
                compartment_code=p.compartment_code,
                updated_at=p.updated_at,
            )
            for p in bundle.parcels
        ],
        counts=BundleCountsOut(
            total=len(bundle.parcels),
            waiting=bundle.count(ParcelState.ANNOUNCED, ParcelState.RESERVED),
            in_locker=bundle.count(ParcelState.READY_FOR_PICKUP),
            picked_up=bundle.count(ParcelState.PICKED_UP),
        ),
        reference=bundle.reference,
        created_at=bundle.created_at,
        updated_at=bundle.updated_at,
    )


def body_of(model: WireModel) -> dict[str, Any]:
    """The JSON body: as `dump`, but optional members absent rather than null (the schemas
    make `compartmentCode`, `reference` and `pickedUp` optional, not nullable)."""
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data
