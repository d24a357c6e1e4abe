"""Wire models of access grants: the HTTP request and answer, and the grant's claims set."""

from __future__ import annotations

from pydantic import Field

from gateway.domain.grants import GrantAction
from gateway.wire.base import UtcDateTime, WireModel
from gateway.wire.requirements import PickupCheckWire


class IssueGrantIn(WireModel):
    """issue-grant-request.json: an empty body; the action follows from the parcel's state."""


class AccessGrantOut(WireModel):
    """access-grant.json: the signed grant and what it binds."""

    token: str
    qr: str
    action: GrantAction
    locker_id: str = Field(alias="lockerId")
    compartment_code: str = Field(alias="compartmentCode")
    not_before: UtcDateTime = Field(alias="notBefore")
    expires_at: UtcDateTime = Field(alias="expiresAt")
    kid: str


class GrantClaimsWire(WireModel):
    """olp-grant.json: the JWT claims set inside a grant (NumericDate seconds)."""

    iss: str
    aud: str
    sub: str
    cmp: str
    act: GrantAction
    nbf: int
    exp: int
    iat: int
    jti: str
    chk: PickupCheckWire | None = None  # pickup grants: the age/identity check to show
