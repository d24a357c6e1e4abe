"""Query on scan: a courier scans a parcel id at a locker and the locker asks where it goes.

Pure rules: which policy applies (the carrier's, else the network's), and what a scan of a
parcel the gateway already knows is answered. The service (gateway/service/scan_queries.py)
reads the parcel, picks a compartment and opens it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from gateway.domain.enums import ParcelState, SizeClass
from gateway.domain.parcel import Parcel


class ScanPolicy(StrEnum):
    """What a gateway does with a scanned parcel that was never pre-advised."""

    REFUSE = "refuse"  # nothing opens; the courier takes the parcel along
    HOLD = "hold"  # taken into a free compartment; it waits for its carrier's confirmation
    ASK = "ask"  # the carrier's scan-query connector is asked; no usable answer: `ask_fallback`


class ScanDecision(StrEnum):
    ACCEPTED = "Accepted"
    REFUSED = "Refused"


class ScanRefusal(StrEnum):
    """Why a scan was refused (olp-scan-parcel-result.json `reason`)."""

    POLICY_REFUSED = "PolicyRefused"
    NO_CARRIER = "NoCarrier"
    NO_COMPARTMENT = "NoCompartment"
    OTHER_LOCKER = "OtherLocker"
    NOT_DEPOSITABLE = "NotDepositable"
    OUT_OF_SERVICE = "OutOfService"


# The class asked for when the locker sends no size: the commonest parcel.
DEFAULT_SCAN_SIZE = SizeClass.S
# How long a parcel taken in on a scan waits for its carrier (its pickup window): the carrier
# confirms by acting on it (a pickup code, an extension) or lets it expire onto the collection
# manifest.
DEFAULT_CONFIRM_WINDOW = timedelta(hours=48)


@dataclass(frozen=True, slots=True)
class ScanQuery:
    """One scan as the locker reported it."""

    locker_id: str
    parcel_id: str
    size_class: SizeClass | None = None
    # When the locker stops waiting (its call's `exp`): an ask of the carrier must end before.
    answer_by: datetime | None = None


@dataclass(frozen=True, slots=True)
class ScanAnswer:
    """The gateway's answer: Accepted into `compartment_code`, or Refused for `reason`."""

    parcel_id: str
    decision: ScanDecision
    compartment_code: str | None = None
    unadvised: bool = False
    reason: ScanRefusal | None = None

    def __post_init__(self) -> None:
        accepted = self.decision is ScanDecision.ACCEPTED
        if accepted != (self.compartment_code is not None) or accepted == (self.reason is not None):
            raise ValueError("Accepted names a compartment and no reason; Refused a reason only")

    @classmethod
    def accepted(cls, parcel_id: str, compartment_code: str, *, unadvised: bool) -> ScanAnswer:
        return cls(parcel_id, ScanDecision.ACCEPTED, compartment_code, unadvised)

    @classmethod
    def refused(cls, parcel_id: str, reason: ScanRefusal) -> ScanAnswer:
        return cls(parcel_id, ScanDecision.REFUSED, reason=reason)


@dataclass(frozen=True, slots=True)
class ScanRules:
    """The network's policy for parcels never pre-advised, and each carrier's own choice."""

    network: ScanPolicy = ScanPolicy.REFUSE
    carriers: Mapping[str, ScanPolicy] | None = None
    confirm_window: timedelta = DEFAULT_CONFIRM_WINDOW
    # `ask` without a usable answer (no connector, a timeout, an error, "unknown"): refuse|hold.
    ask_fallback: ScanPolicy = ScanPolicy.REFUSE

    def __post_init__(self) -> None:
        if self.ask_fallback is ScanPolicy.ASK:
            raise ValueError("the fallback of `ask` is refuse or hold")

    @classmethod
    def of(
        cls,
        network: str,
        carriers: Mapping[str, str],
        confirm_window: timedelta,
        ask_fallback: str = "refuse",
    ) -> ScanRules:
        """From the `[scan]` settings' plain values."""
        return cls(
            ScanPolicy(network),
            {carrier: ScanPolicy(policy) for carrier, policy in carriers.items()},
            confirm_window,
            ScanPolicy(ask_fallback),
        )

    def policy_for(self, carrier_id: str) -> ScanPolicy:
        """The carrier's policy where it has one, else the network's."""
        if self.carriers and carrier_id in self.carriers:
            return self.carriers[carrier_id]
        return self.network


# A pre-advised parcel a courier may deposit now (announced: it takes its compartment at the
# door; reserved: it has one).
_DEPOSITABLE = frozenset({ParcelState.ANNOUNCED, ParcelState.RESERVED})


def known_parcel_refusal(parcel: Parcel, locker_id: str) -> ScanRefusal | None:
    """Why a scan of a parcel the gateway knows cannot be a deposit here; None when it can."""
    if parcel.locker_id != locker_id:
        return ScanRefusal.OTHER_LOCKER
    if parcel.state not in _DEPOSITABLE:
        return ScanRefusal.NOT_DEPOSITABLE
    return None
