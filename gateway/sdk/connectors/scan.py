"""Query on scan, asked of the carrier: what a `scan-query` connector renders and parses.

A courier scanned a parcel id the gateway was never told of, at a locker where the carrier's
courier round is open, and the carrier's scan policy is `ask`. The gateway asks the carrier's
connector: `render_scan_query` turns the query into the carrier's own HTTP request, and
`parse_scan_answer` turns the carrier's answer into accept (with a size class, if the carrier
knows it), refuse or unknown. The gateway sends the request itself (the attachment's auth
plugin, the SSRF-guarded transport, a short timeout), so both methods stay pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["CarrierScanAnswer", "ScanQueryView", "ScanReply", "ScanVerdict"]

SIZE_CLASSES = ("XS", "S", "M", "L", "XL")


@dataclass(frozen=True, slots=True)
class ScanQueryView:
    """One scan, as the carrier is asked about it."""

    query_id: str  # unique per scan: an idempotency key and the auth plugin's event id
    carrier_id: str
    locker_id: str
    parcel_id: str
    size_class: str | None = None  # what the courier chose at the locker, if anything
    network_id: str | None = None


class ScanVerdict(StrEnum):
    ACCEPT = "accept"  # the carrier knows the parcel: take it in
    REFUSE = "refuse"  # the carrier does not want it in this locker
    UNKNOWN = "unknown"  # the carrier cannot say: the gateway's `ask_fallback` decides


@dataclass(frozen=True, slots=True)
class CarrierScanAnswer:
    verdict: ScanVerdict
    size_class: str | None = None  # one of XS..XL; only with ACCEPT

    def __post_init__(self) -> None:
        if self.size_class is not None:
            if self.verdict is not ScanVerdict.ACCEPT:
                raise ValueError("only an accept names a size class")
            if self.size_class not in SIZE_CLASSES:
                raise ValueError(f"unknown size class {self.size_class!r}")


@dataclass(frozen=True, slots=True)
class ScanReply:
    """The carrier's HTTP answer as received (the body bounded by the gateway)."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
