"""The pure part: capacity per size class, the pre-check's verdicts, a hold's ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.compartment import Compartment
from gateway.domain.enums import CompartmentState, SizeClass
from gateway.domain.holds import Hold, HoldState, PrecheckVerdict, class_capacity, precheck
from gateway.domain.sizes import STANDARD_SIZES, Dimensions, SizeRequirement
from gateway.errors import HoldNotActive

T0 = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
S, M = SizeClass.S, SizeClass.M


def box(
    code: str, size: SizeClass, state: CompartmentState = CompartmentState.AVAILABLE
) -> Compartment:
    spec = STANDARD_SIZES[size]
    return Compartment("L1", code, size, spec.inside, spec.max_weight_g, state=state)


LOCKER = [
    box("S1", S),
    box("S2", S, CompartmentState.RESERVED),
    box("M1", M),
    box("M2", M),
]


def hold() -> Hold:
    return Hold(
        hold_id="h1",
        carrier_id="acme",
        locker_id="L1",
        size_class=S,
        need=SizeRequirement(size_class=S),
        state=HoldState.ACTIVE,
        created_at=T0,
        expires_at=T0 + timedelta(minutes=15),
        updated_at=T0,
    )


def test_held_capacity_is_taken_from_the_free_compartments_of_its_class() -> None:
    caps = class_capacity(LOCKER, SizeRequirement(size_class=S), {S: 1})
    assert [(c.size_class, c.fitting, c.available, c.held, c.spare) for c in caps] == [
        (S, 2, 1, 1, 0),
        (M, 2, 2, 0, 2),
    ]


def test_precheck_offers_the_smallest_class_with_spare_room() -> None:
    need = SizeRequirement(size_class=S)
    assert precheck("L1", LOCKER, need, {}, T0).size_class is S
    held = precheck("L1", LOCKER, need, {S: 1}, T0)
    assert (held.verdict, held.size_class) == (PrecheckVerdict.ACCEPTED, M)
    full = precheck("L1", LOCKER, need, {S: 1, M: 2}, T0)
    assert (full.verdict, full.size_class) == (PrecheckVerdict.FULL, None)


def test_precheck_tells_a_parcel_too_large_or_heavy_from_a_full_locker() -> None:
    huge = SizeRequirement(dimensions=Dimensions(700, 900, 700))
    assert precheck("L1", LOCKER, huge, {}, T0).verdict is PrecheckVerdict.DOES_NOT_FIT
    heavy = SizeRequirement(size_class=S, weight_g=90_000)
    assert precheck("L1", LOCKER, heavy, {}, T0).verdict is PrecheckVerdict.DOES_NOT_FIT
    # By dimensions: 300 mm high fits M (410) but not S (190).
    tall = SizeRequirement(dimensions=Dimensions(300, 300, 500))
    answer = precheck("L1", LOCKER, tall, {}, T0)
    assert [c.size_class for c in answer.classes] == [M]


def test_a_hold_counts_until_it_expires_and_ends_once() -> None:
    h = hold()
    assert h.holds_capacity(T0 + timedelta(minutes=14))
    assert not h.holds_capacity(T0 + timedelta(minutes=15))
    converted = h.convert("uid-1", "P1", T0 + timedelta(minutes=1))
    assert (converted.state, converted.parcel_id) == (HoldState.CONVERTED, "P1")
    with pytest.raises(HoldNotActive):
        converted.release(T0 + timedelta(minutes=2))
    with pytest.raises(HoldNotActive):
        h.expire(T0 + timedelta(minutes=14))  # not yet due
    expired = h.expire(T0 + timedelta(minutes=20))
    assert (expired.state, expired.ended_at) == (HoldState.EXPIRED, h.expires_at)


def test_an_expired_or_attached_hold_cannot_be_used_by_another_booking() -> None:
    with pytest.raises(HoldNotActive, match="expired"):
        hold().usable_by("uid-1", T0 + timedelta(minutes=16))
    attached = hold().attach("uid-1", "P1", T0)
    assert attached.usable_by("uid-1", T0) is attached
    with pytest.raises(HoldNotActive, match="attached"):
        attached.usable_by("uid-2", T0)
