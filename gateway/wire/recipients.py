"""The recipient member of a parcel announcement (personal data, for notifications only)."""

from __future__ import annotations

from pydantic import Field

from gateway.domain.recipients import Recipient
from gateway.wire.base import WireModel

__all__ = ["RecipientIn"]


class RecipientIn(WireModel):
    """Accepted on `POST /v1/parcels`, never echoed: no response or event for other
    parties carries it; only recipient-notification connectors are handed it."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$")
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    opt_out: bool = Field(default=False, alias="optOut")

    def to_domain(self) -> Recipient:
        return Recipient(
            name=self.name,
            email=self.email,
            phone=self.phone,
            language=self.language,
            opt_out=self.opt_out,
        )
