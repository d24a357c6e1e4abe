"""Builders shared by the domain tests: a fixed clock, parcels in any state, compartments."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.domain.compartment import Compartment
from gateway.domain.enums import CompartmentState, Direction, ParcelState, SizeClass
from gateway.domain.parcel import Parcel
from gateway.domain.sizes import STANDARD_SIZES, SizeRequirement

S = ParcelState

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
# Deliberately not the defaults (24 h / 72 h), so a transition that ignores the parcel's own
# settings and uses a constant is caught.
TTL = timedelta(hours=5)
WINDOW = timedelta(hours=48)

FIRST_MILE_STATES = frozenset({S.DROPOFF_ANNOUNCED, S.DROPPED_OFF})
# States whose parcel has a compartment booked or physically holds one.
WITH_COMPARTMENT = frozenset(
    {
        S.RESERVED,
        S.READY_FOR_PICKUP,
        S.PICKUP_FAILED,
        S.EXPIRED,
        S.REDIRECTED,
        S.DROPOFF_ANNOUNCED,
        S.DROPPED_OFF,
    }
)
WITH_RESERVATION_TIMER = frozenset({S.RESERVED, S.DROPOFF_ANNOUNCED})
WITH_PICKUP_TIMER = frozenset({S.READY_FOR_PICKUP, S.PICKUP_FAILED, S.EXPIRED, S.REDIRECTED})


def new_parcel(
    direction: Direction = Direction.LAST_MILE, *, uid: str = "p-1", **changes: Any
) -> Parcel:
    """A parcel as the service creates it, before `announce`."""
    state = S.DROPOFF_ANNOUNCED if direction is Direction.FIRST_MILE else S.ANNOUNCED
    parcel = Parcel(
        uid=uid,
        carrier_id="carrier-1",
        parcel_id="RA123456785GB",
        direction=direction,
        state=state,
        locker_id="WAW-001",
        need=SizeRequirement(size_class=SizeClass.S),
        created_at=T0,
        updated_at=T0,
        compartment_code="A1" if direction is Direction.FIRST_MILE else None,
        reservation_ttl=TTL,
        pickup_window=WINDOW,
    )
    return replace(parcel, **changes)


def parcel_in(state: ParcelState, **changes: Any) -> Parcel:
    """A parcel that has reached `state` with plausible timers and compartment, three events in."""
    direction = Direction.FIRST_MILE if state in FIRST_MILE_STATES else Direction.LAST_MILE
    parcel = replace(
        new_parcel(direction),
        state=state,
        last_seq=3,
        compartment_code="A1" if state in WITH_COMPARTMENT else None,
        reserved_until=T0 + TTL if state in WITH_RESERVATION_TIMER else None,
        pickup_until=T0 + WINDOW if state in WITH_PICKUP_TIMER else None,
    )
    return replace(parcel, **changes)


def compartment(
    code: str = "A1",
    size_class: SizeClass = SizeClass.S,
    state: CompartmentState = CompartmentState.AVAILABLE,
    parcel_uid: str | None = None,
    **changes: Any,
) -> Compartment:
    """A compartment of the standard inside size for its class."""
    spec = STANDARD_SIZES[size_class]
    box = Compartment(
        locker_id="WAW-001",
        code=code,
        size_class=size_class,
        inside=spec.inside,
        max_weight_g=spec.max_weight_g,
        state=state,
        parcel_uid=parcel_uid,
    )
    return replace(box, **changes)
