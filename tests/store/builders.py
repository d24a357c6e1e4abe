"""Small builders of domain objects for the storage tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.domain.compartment import Compartment
from gateway.domain.enums import Direction, ParcelState, SizeClass
from gateway.domain.locker import Location, Locker
from gateway.domain.parcel import Parcel
from gateway.domain.sizes import STANDARD_SIZES, SizeRequirement

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def locker(locker_id: str = "WAW-001", **changes: Any) -> Locker:
    base = Locker(
        id=locker_id,
        name=f"Locker {locker_id}",
        location=Location(52.2297, 21.0122, "Marszałkowska 1, Warszawa"),
        adapter="olp",
        features=frozenset({"pin", "grant"}),
    )
    return replace(base, **changes)


def compartments(locker_id: str, sizes: Sequence[SizeClass]) -> list[Compartment]:
    """One compartment per entry of `sizes`, coded C01, C02... with standard dimensions."""
    return [
        Compartment(
            locker_id=locker_id,
            code=f"C{i:02d}",
            size_class=size,
            inside=STANDARD_SIZES[size].inside,
            max_weight_g=STANDARD_SIZES[size].max_weight_g,
        )
        for i, size in enumerate(sizes, start=1)
    ]


def parcel(parcel_id: str = "P-1", carrier_id: str = "acme", **changes: Any) -> Parcel:
    base = Parcel(
        uid=str(uuid.uuid4()),
        carrier_id=carrier_id,
        parcel_id=parcel_id,
        direction=Direction.LAST_MILE,
        state=ParcelState.ANNOUNCED,
        locker_id="WAW-001",
        need=SizeRequirement(SizeClass.S),
        created_at=T0,
        updated_at=T0,
        pickup_window=timedelta(hours=48),
        reservation_ttl=timedelta(hours=12),
    )
    return replace(base, **changes)
