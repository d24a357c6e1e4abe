"""The recipient of a parcel on the wire: accepted on announcement, handed to notifiers only."""

from __future__ import annotations

from pydantic import Field

from gateway.domain import recipients as domain
from gateway.wire.base import WireModel

__all__ = ["RecipientWire"]


class RecipientWire(WireModel):
    """`common.json#/$defs/Recipient`: one model for `POST /v1/parcels` and `ConnectorEvent`.

    Personal data: never echoed in a response, a webhook or another connector's event; only
    recipient-notification connectors are handed it.
    """

    # repr=False: a log line or a traceback that shows the model must not show them.
    name: str | None = Field(default=None, min_length=1, max_length=200, repr=False)
    email: str | None = Field(
        default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", repr=False
    )
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$", repr=False)  # E.164
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    opt_out: bool = Field(default=False, alias="optOut")

    def to_domain(self) -> domain.Recipient:
        return domain.Recipient(
            name=self.name,
            email=self.email,
            phone=self.phone,
            language=self.language,
            opt_out=self.opt_out,
        )

    @classmethod
    def from_domain(cls, recipient: domain.Recipient) -> RecipientWire:
        return cls(
            name=recipient.name,
            email=recipient.email,
            phone=recipient.phone,
            language=recipient.language,
            opt_out=recipient.opt_out,
        )
