"""The recipient a carrier named for a parcel: personal data, kept only to notify them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Recipient"]


@dataclass(frozen=True, slots=True)
class Recipient:
    """Contact details as the carrier sent them (validated against the schema on the way in).

    `repr` hides every value, so a parcel in a log line or a traceback never shows them.
    """

    name: str | None = None
    email: str | None = None
    phone: str | None = None  # E.164
    language: str | None = None  # BCP 47 language, optionally with region: pl, pl-PL
    opt_out: bool = False

    def __repr__(self) -> str:
        given = [k for k in ("name", "email", "phone", "language") if getattr(self, k)]
        return f"Recipient(<{', '.join(given) or 'nothing'} given>, opt_out={self.opt_out})"

    def to_json(self) -> dict[str, Any]:
        """The stored form: the wire member names, absent members left out."""
        out: dict[str, Any] = {
            key: value
            for key, value in (
                ("name", self.name),
                ("email", self.email),
                ("phone", self.phone),
                ("language", self.language),
            )
            if value is not None
        }
        out["optOut"] = self.opt_out
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Recipient:
        return cls(
            name=data.get("name"),
            email=data.get("email"),
            phone=data.get("phone"),
            language=data.get("language"),
            opt_out=bool(data.get("optOut", False)),
        )
