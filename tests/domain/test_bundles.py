"""The pure rules of bundles: their derived state, a code's purpose, the allocation order."""

from __future__ import annotations

import pytest

from gateway.domain.bundles import (
    BundleState,
    allocation_order,
    awaiting,
    bundle_state,
    code_purpose,
)
from gateway.domain.door import OpenPurpose
from gateway.domain.enums import ParcelState, SizeClass
from gateway.domain.sizes import Dimensions, SizeRequirement

S = ParcelState


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ([S.RESERVED, S.RESERVED], BundleState.PENDING),
        ([S.READY_FOR_PICKUP, S.RESERVED], BundleState.PENDING),
        ([S.READY_FOR_PICKUP, S.READY_FOR_PICKUP], BundleState.READY_FOR_PICKUP),
        ([S.READY_FOR_PICKUP, S.CANCELLED], BundleState.READY_FOR_PICKUP),
        ([S.PICKED_UP, S.READY_FOR_PICKUP], BundleState.PARTIALLY_PICKED_UP),
        ([S.PICKED_UP, S.RESERVED], BundleState.PARTIALLY_PICKED_UP),
        ([S.PICKED_UP, S.PICKED_UP], BundleState.PICKED_UP),
        ([S.PICKED_UP, S.EXPIRED], BundleState.ENDED),
        ([S.CANCELLED, S.RESERVATION_EXPIRED], BundleState.ENDED),
    ],
)
def test_the_state_follows_the_parcels(states: list[ParcelState], expected: BundleState) -> None:
    assert bundle_state(states) is expected
    assert bundle_state(reversed(states)) is expected  # order does not matter


def test_a_code_is_for_the_deposit_first_then_the_pickup() -> None:
    assert code_purpose([S.READY_FOR_PICKUP, S.RESERVED]) is OpenPurpose.DEPOSIT
    assert code_purpose([S.READY_FOR_PICKUP, S.PICKED_UP]) is OpenPurpose.PICKUP
    # Collecting expired parcels is the courier's round, never a bundle code's.
    assert code_purpose([S.EXPIRED, S.PICKED_UP]) is None
    states = [S.READY_FOR_PICKUP, S.PICKED_UP, S.READY_FOR_PICKUP, S.RESERVED]
    assert awaiting(states, OpenPurpose.PICKUP) == [0, 2]


def test_the_largest_parcels_are_allocated_first() -> None:
    needs = [
        SizeRequirement(size_class=SizeClass.S),
        SizeRequirement(size_class=SizeClass.XL),
        # No class given: 500 mm high fits nothing below L (600 mm inside).
        SizeRequirement(dimensions=Dimensions(300, 500, 300)),
        SizeRequirement(size_class=SizeClass.XS),
    ]
    assert allocation_order(needs) == [1, 2, 0, 3]
