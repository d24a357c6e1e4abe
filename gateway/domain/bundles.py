"""Bundles: several parcels for one recipient at one locker, opened with one code.

Pure rules only: what state a bundle is in given its parcels' states, which of its parcels a
bundle code opens, and in which order a bundle's parcels claim compartments.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from gateway.domain.door import PURPOSE_FOR_STATE, OpenPurpose
from gateway.domain.enums import ParcelState
from gateway.domain.parcel import Parcel
from gateway.domain.sizes import STANDARD_SIZES, SizeRequirement

# The openings a bundle code may be for: filling the bundle's compartments, or emptying them.
# Collecting expired parcels is the courier's round (one code per parcel, or a courier session).
BUNDLE_PURPOSES = (OpenPurpose.DEPOSIT, OpenPurpose.PICKUP)

_WAITING = frozenset({ParcelState.ANNOUNCED, ParcelState.RESERVED})


class BundleState(StrEnum):
    """Derived from the bundle's parcels, never stored: one parcel's move moves the bundle."""

    PENDING = "pending"  # some parcel still waits for its deposit
    READY_FOR_PICKUP = "ready_for_pickup"  # every parcel is in the locker, none taken yet
    PARTIALLY_PICKED_UP = "partially_picked_up"  # some taken, some still in or on their way
    PICKED_UP = "picked_up"  # every parcel taken
    ENDED = "ended"  # nothing waits any more, but not everything was taken (cancelled, expired)


def bundle_state(states: Iterable[ParcelState]) -> BundleState:
    """The bundle's state from its parcels' states (in any order)."""
    all_states = list(states)
    picked = sum(1 for s in all_states if s is ParcelState.PICKED_UP)
    waiting = sum(1 for s in all_states if s in _WAITING)
    inside = sum(1 for s in all_states if s is ParcelState.READY_FOR_PICKUP)
    if all_states and picked == len(all_states):
        return BundleState.PICKED_UP
    if waiting + inside == 0:
        return BundleState.ENDED
    if picked:
        return BundleState.PARTIALLY_PICKED_UP
    if waiting:
        return BundleState.PENDING
    return BundleState.READY_FOR_PICKUP


def code_purpose(states: Iterable[ParcelState]) -> OpenPurpose | None:
    """The opening a new bundle code is for when the carrier does not say: the deposit while
    any parcel still waits for it (the courier comes first), else the pickup; None if no
    parcel of the bundle awaits either."""
    purposes = {PURPOSE_FOR_STATE.get(s) for s in states}
    for purpose in BUNDLE_PURPOSES:
        if purpose in purposes:
            return purpose
    return None


def awaiting(states: Sequence[ParcelState], purpose: OpenPurpose) -> list[int]:
    """Indexes of the parcels whose state calls for `purpose`: the doors a bundle code opens."""
    return [i for i, s in enumerate(states) if PURPOSE_FOR_STATE.get(s) is purpose]


def allocation_order(needs: Sequence[SizeRequirement]) -> list[int]:
    """Indexes of `needs`, largest first: the big parcels claim their compartments before the
    small ones can take a big compartment that was the only one left for a big parcel."""

    def size(i: int) -> tuple[int, int, int]:
        need = needs[i]
        rank = need.size_class.rank if need.size_class is not None else 0
        if need.dimensions is not None:
            fits = [
                spec.size_class.rank
                for spec in STANDARD_SIZES.values()
                if need.dimensions.fits_inside(spec.inside)
            ]
            rank = max(rank, min(fits, default=len(STANDARD_SIZES)))
        volume = need.dimensions.volume_mm3 if need.dimensions is not None else 0
        return rank, volume, need.weight_g or 0

    return sorted(range(len(needs)), key=lambda i: size(i), reverse=True)


@dataclass(frozen=True, slots=True)
class Bundle:
    """A bundle as read: its own fields and its parcels as they are now, in booking order."""

    uid: str
    carrier_id: str
    bundle_id: str
    locker_id: str
    created_at: datetime
    parcels: tuple[Parcel, ...]
    reference: str | None = None

    @property
    def state(self) -> BundleState:
        return bundle_state(p.state for p in self.parcels)

    @property
    def updated_at(self) -> datetime:
        return max([self.created_at, *(p.updated_at for p in self.parcels)])

    def count(self, *states: ParcelState) -> int:
        return sum(1 for p in self.parcels if p.state in states)

    def awaiting(self, purpose: OpenPurpose) -> tuple[Parcel, ...]:
        """Its parcels whose state calls for `purpose` now and that hold a compartment."""
        states = [p.state for p in self.parcels]
        return tuple(
            self.parcels[i]
            for i in awaiting(states, purpose)
            if self.parcels[i].compartment_code is not None
        )
