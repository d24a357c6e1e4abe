"""Query on scan (SPEC section 17): a courier scans a parcel label the locker cannot place.

The locker asks the gateway with a `ScanParcel` call and shows the answer; it opens nothing on
the answer itself: after `Accepted` the gateway's `OpenCompartment` (purpose deposit) follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SIZE_CLASSES = ("XS", "S", "M", "L", "XL")


class ScanNotPossible(Exception):
    """The locker cannot ask now (offline, not booted) or the scan is not a valid parcel id."""


class NotReady(ScanNotPossible):
    """Offline or not booted: the locker may send no call but Boot."""


class BadLabel(ScanNotPossible):
    """The scanned text is not a parcel id the protocol carries (or the size is unknown)."""


@dataclass(frozen=True, slots=True)
class ScanReply:
    """What the gateway answered: a decision (result), an error reply, or nothing in time."""

    parcel_id: str
    decision: str | None = None  # Accepted | Refused
    compartment_code: str | None = None
    unadvised: bool | None = None
    reason: str | None = None
    error: dict[str, Any] | None = None  # the error reply's `error` member

    @property
    def answered(self) -> bool:
        return self.decision is not None

    @property
    def screen_text(self) -> str:
        """What the locker's screen says to the courier."""
        if self.decision == "Accepted":
            return f"Put parcel {self.parcel_id} into compartment {self.compartment_code}"
        if self.decision == "Refused":
            return f"Parcel {self.parcel_id} not accepted here ({self.reason})"
        if self.error is not None:
            return f"Scan not answered ({self.error.get('code')}): try again"
        return "No answer from the network: try again"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"parcelId": self.parcel_id, "answered": self.answered}
        for key, value in (
            ("decision", self.decision),
            ("compartmentCode", self.compartment_code),
            ("unadvised", self.unadvised),
            ("reason", self.reason),
            ("error", self.error),
        ):
            if value is not None:
                body[key] = value
        body["screen"] = self.screen_text
        return body


def scan_payload(parcel_id: str, size_class: str | None) -> dict[str, Any]:
    if size_class is not None and size_class not in SIZE_CLASSES:
        raise BadLabel(f"sizeClass must be one of {', '.join(SIZE_CLASSES)}")
    payload: dict[str, Any] = {"parcelId": parcel_id}
    if size_class is not None:
        payload["sizeClass"] = size_class
    return payload


def read_reply(parcel_id: str, reply: dict[str, Any] | None) -> ScanReply:
    """The gateway's reply (already checked against the spec by the inbound side)."""
    if reply is None:
        return ScanReply(parcel_id)
    if reply.get("kind") == "error":
        return ScanReply(parcel_id, error=dict(reply.get("error") or {}))
    payload = reply.get("payload") or {}
    return ScanReply(
        parcel_id,
        decision=payload.get("decision"),
        compartment_code=payload.get("compartmentCode"),
        unadvised=payload.get("unadvised"),
        reason=payload.get("reason"),
    )
