"""Soft holds and the pre-check: capacity of a size class held for a while, no compartment yet.

A soft hold promises a carrier room of one size class at one locker until it expires, without
naming a compartment. It ends one of four ways: converted (a parcel booked with it took a
compartment of that class: a hard reservation), released (by the carrier, or its parcel was
cancelled before it took a compartment), expired (its TTL ran out), or it is still active. While
active it counts against the class: other bookings leave `held` compartments of the class free.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from gateway.domain.compartment import Compartment
from gateway.domain.enums import CompartmentState, SizeClass
from gateway.domain.sizes import SizeRequirement
from gateway.errors import HoldNotActive


class HoldState(StrEnum):
    ACTIVE = "active"
    CONVERTED = "converted"
    RELEASED = "released"
    EXPIRED = "expired"


class HoldEventType(StrEnum):
    """The webhook event types of a hold's end (webhook-hold-event.json)."""

    CONVERTED = "hold.converted"
    RELEASED = "hold.released"
    EXPIRED = "hold.expired"


class PrecheckVerdict(StrEnum):
    """Whether a locker can take a parcel (precheck-result.json `verdict`)."""

    ACCEPTED = "accepted"
    FULL = "full"  # compartments that fit exist, none is free (or all are held) at that time
    DOES_NOT_FIT = "does_not_fit"  # no compartment of the locker takes such a parcel at all


@dataclass(frozen=True, slots=True)
class Hold:
    hold_id: str
    carrier_id: str
    locker_id: str
    size_class: SizeClass
    need: SizeRequirement
    state: HoldState
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    parcel_uid: str | None = None
    parcel_id: str | None = None
    reference: str | None = None
    ended_at: datetime | None = None

    def holds_capacity(self, at: datetime) -> bool:
        """Whether the hold still counts against its size class at `at`."""
        return self.state is HoldState.ACTIVE and at < self.expires_at

    def usable_by(self, parcel_uid: str | None, now: datetime) -> Hold:
        """This hold, if a booking (or the parcel `parcel_uid` it is attached to) may use it."""
        if self.state is HoldState.ACTIVE and now >= self.expires_at:
            raise HoldNotActive(
                f"hold {self.hold_id} expired at {self.expires_at.isoformat()}",
                details={"holdId": self.hold_id, "state": "expired"},
            )
        if self.state is not HoldState.ACTIVE:
            raise HoldNotActive(
                f"hold {self.hold_id} is {self.state}, not active",
                details={"holdId": self.hold_id, "state": str(self.state)},
            )
        if self.parcel_uid is not None and self.parcel_uid != parcel_uid:
            raise HoldNotActive(
                f"hold {self.hold_id} is already attached to parcel {self.parcel_id}",
                details={"holdId": self.hold_id, "parcelId": self.parcel_id},
            )
        return self

    def attach(self, parcel_uid: str, parcel_id: str, now: datetime) -> Hold:
        """A parcel announced without a compartment keeps the hold until it reaches the door."""
        self.usable_by(parcel_uid, now)
        return replace(self, parcel_uid=parcel_uid, parcel_id=parcel_id, updated_at=now)

    def convert(self, parcel_uid: str, parcel_id: str, now: datetime) -> Hold:
        self.usable_by(parcel_uid, now)
        return self._end(HoldState.CONVERTED, now, parcel_uid=parcel_uid, parcel_id=parcel_id)

    def release(self, now: datetime) -> Hold:
        self.usable_by(self.parcel_uid, now)
        return self._end(HoldState.RELEASED, now)

    def expire(self, now: datetime) -> Hold:
        if self.state is not HoldState.ACTIVE or now < self.expires_at:
            raise HoldNotActive(
                f"hold {self.hold_id} is {self.state} until {self.expires_at.isoformat()}",
                details={"holdId": self.hold_id, "state": str(self.state)},
            )
        # Ended when its time ran out, whenever the sweep got to it.
        return self._end(HoldState.EXPIRED, now, ended_at=self.expires_at)

    def _end(
        self,
        state: HoldState,
        now: datetime,
        *,
        ended_at: datetime | None = None,
        parcel_uid: str | None = None,
        parcel_id: str | None = None,
    ) -> Hold:
        return replace(
            self,
            state=state,
            updated_at=now,
            ended_at=ended_at or now,
            parcel_uid=parcel_uid or self.parcel_uid,
            parcel_id=parcel_id or self.parcel_id,
        )


@dataclass(frozen=True, slots=True)
class ClassCapacity:
    """One size class of a locker as a parcel sees it: free compartments that take it, and
    the active holds on the class (which take the class's free compartments first)."""

    size_class: SizeClass
    fitting: int  # compartments of the class that take the parcel, in any state
    available: int  # of those, free now
    free: int  # free compartments of the class, fitting or not
    held: int

    @property
    def spare(self) -> int:
        """Free compartments that take the parcel and no hold claims."""
        return max(0, min(self.available, self.free - self.held))


def class_capacity(
    compartments: Iterable[Compartment], need: SizeRequirement, held: Mapping[SizeClass, int]
) -> list[ClassCapacity]:
    """Per size class (XS first) that has a compartment taking `need`: its capacity for it."""
    fitting: Counter[SizeClass] = Counter()
    available: Counter[SizeClass] = Counter()
    free: Counter[SizeClass] = Counter()
    for c in compartments:
        is_free = c.state is CompartmentState.AVAILABLE
        if is_free:
            free[c.size_class] += 1
        if need.accepts(c.size_class, c.inside, c.max_weight_g) and need.requirements.admits(
            c.traits
        ):
            fitting[c.size_class] += 1
            if is_free:
                available[c.size_class] += 1
    return [
        ClassCapacity(size, fitting[size], available[size], free[size], held.get(size, 0))
        for size in SizeClass
        if fitting[size]
    ]


@dataclass(frozen=True, slots=True)
class Precheck:
    """The answer to "can this locker take such a parcel at that time?" (no booking made)."""

    locker_id: str
    at: datetime
    verdict: PrecheckVerdict
    size_class: SizeClass | None  # the class a booking (or a hold) would get
    classes: tuple[ClassCapacity, ...]


def precheck(
    locker_id: str,
    compartments: Iterable[Compartment],
    need: SizeRequirement,
    held: Mapping[SizeClass, int],
    at: datetime,
) -> Precheck:
    """`held`: the holds still active at `at`, per class. Reservations and parcels in the
    locker are taken to stay: a pre-check promises nothing a hold would not."""
    classes = tuple(class_capacity(compartments, need, held))
    if not classes:
        return Precheck(locker_id, at, PrecheckVerdict.DOES_NOT_FIT, None, classes)
    first = next((c for c in classes if c.spare > 0), None)
    if first is None:
        return Precheck(locker_id, at, PrecheckVerdict.FULL, None, classes)
    return Precheck(locker_id, at, PrecheckVerdict.ACCEPTED, first.size_class, classes)
