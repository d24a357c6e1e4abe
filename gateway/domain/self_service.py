"""What a parcel's recipient asked for through the self-service link (shown in its record)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# How many fresh pickup codes one recipient may ask for, per parcel: a lost message is
# solved by one; more would let a leaked link mint codes for ever.
MAX_RECIPIENT_CODES = 3


@dataclass(frozen=True, slots=True)
class RecipientRequests:
    extended_at: datetime | None = None
    codes_issued: int = 0
    redirect_locker_id: str | None = None
    redirect_requested_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "extendedAt": self.extended_at.isoformat() if self.extended_at else None,
            "codesIssued": self.codes_issued,
            "redirectLockerId": self.redirect_locker_id,
            "redirectRequestedAt": (
                self.redirect_requested_at.isoformat() if self.redirect_requested_at else None
            ),
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> RecipientRequests:
        def when(key: str) -> datetime | None:
            raw = value.get(key)
            return datetime.fromisoformat(raw) if raw else None

        return cls(
            extended_at=when("extendedAt"),
            codes_issued=int(value.get("codesIssued", 0)),
            redirect_locker_id=value.get("redirectLockerId"),
            redirect_requested_at=when("redirectRequestedAt"),
        )
