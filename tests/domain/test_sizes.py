"""Size classes, fitting a parcel in some orientation, booking requirements and box ranking."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gateway.domain.compartment import Compartment, rank_candidates
from gateway.domain.enums import CompartmentState, SizeClass
from gateway.domain.sizes import STANDARD_SIZES, Dimensions, SizeRequirement

from .builders import compartment

C = CompartmentState
XS, S, M, L, XL = SizeClass
ORDER = [XS, S, M, L, XL]

mm = st.integers(min_value=1, max_value=3_000)
dims = st.builds(Dimensions, mm, mm, mm)


def _box(
    code: str,
    size: SizeClass,
    state: CompartmentState = C.AVAILABLE,
    inside: Dimensions | None = None,
) -> Compartment:
    box = compartment(code, size, state, None if state is C.AVAILABLE else "p-1")
    return box if inside is None else compartment(code, size, state, box.parcel_uid, inside=inside)


# --- size classes ------------------------------------------------------------------------------


def test_size_classes_are_ranked_xs_to_xl() -> None:
    assert list(SizeClass) == ORDER
    assert [s.rank for s in ORDER] == [0, 1, 2, 3, 4]


def test_every_class_has_a_standard_size_under_its_own_name() -> None:
    assert list(STANDARD_SIZES) == ORDER
    assert all(spec.size_class is size for size, spec in STANDARD_SIZES.items())


@pytest.mark.parametrize(("small", "big"), list(itertools.pairwise(ORDER)))
def test_standard_sizes_grow_with_the_class(small: SizeClass, big: SizeClass) -> None:
    a, b = STANDARD_SIZES[small], STANDARD_SIZES[big]
    assert a.inside.fits_inside(b.inside)
    assert not b.inside.fits_inside(a.inside)
    assert a.inside.volume_mm3 < b.inside.volume_mm3
    assert a.max_weight_g < b.max_weight_g


def test_the_xs_box_is_380_by_80_by_640() -> None:
    inside = STANDARD_SIZES[XS].inside
    assert (inside.width_mm, inside.height_mm, inside.depth_mm) == (380, 80, 640)
    assert inside.volume_mm3 == 380 * 80 * 640 == 19_456_000
    assert inside.sorted() == (80, 380, 640)


# --- dimensions --------------------------------------------------------------------------------


@pytest.mark.parametrize("values", [(0, 1, 1), (1, 0, 1), (1, 1, 0), (-5, 10, 10), (10, 10, -1)])
def test_dimensions_must_be_positive(values: tuple[int, int, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        Dimensions(*values)


@pytest.mark.parametrize("order", list(itertools.permutations((640, 380, 80))))
def test_a_parcel_is_turned_to_fit(order: tuple[int, int, int]) -> None:
    assert Dimensions(*order).fits_inside(STANDARD_SIZES[XS].inside)


@pytest.mark.parametrize(
    ("item", "box", "fits"),
    [
        ((600, 100, 300), (380, 190, 640), True),  # lies flat, turned
        ((641, 10, 10), (380, 190, 640), False),  # too long whichever way
        ((200, 200, 200), (380, 190, 640), False),  # every side exceeds the shortest
        ((190, 380, 640), (380, 190, 640), True),  # exactly the box
        ((380, 191, 10), (380, 190, 640), True),  # 191 goes along the depth
        ((381, 381, 10), (380, 190, 640), False),  # two sides need more than 380
    ],
)
def test_fits_inside_examples(
    item: tuple[int, int, int], box: tuple[int, int, int], fits: bool
) -> None:
    assert Dimensions(*item).fits_inside(Dimensions(*box)) is fits


@given(dims, dims)
def test_fits_inside_tries_every_axis_aligned_orientation(
    item: Dimensions, box: Dimensions
) -> None:
    room = (box.width_mm, box.height_mm, box.depth_mm)
    sides = (item.width_mm, item.height_mm, item.depth_mm)
    some_turn_fits = any(
        all(s <= r for s, r in zip(turn, room, strict=True))
        for turn in itertools.permutations(sides)
    )
    assert item.fits_inside(box) is some_turn_fits


@given(dims, dims, st.permutations([0, 1, 2]), st.permutations([0, 1, 2]))
def test_fitting_does_not_depend_on_the_order_of_the_sides(
    item: Dimensions, box: Dimensions, turn_item: list[int], turn_box: list[int]
) -> None:
    a = (item.width_mm, item.height_mm, item.depth_mm)
    b = (box.width_mm, box.height_mm, box.depth_mm)
    turned = Dimensions(*(a[i] for i in turn_item))
    turned_box = Dimensions(*(b[i] for i in turn_box))
    assert turned.fits_inside(turned_box) is item.fits_inside(box)


@given(dims, st.integers(0, 2), st.integers(1, 500), st.permutations([0, 1, 2]))
def test_a_parcel_never_fits_a_box_smaller_in_one_side(
    item: Dimensions, side: int, shrink: int, turn: list[int]
) -> None:
    sides = list(item.sorted())
    assume(sides[side] > shrink)
    sides[side] -= shrink
    smaller = Dimensions(*(sides[i] for i in turn))
    assert item.fits_inside(item)
    assert not item.fits_inside(smaller)
    assert smaller.fits_inside(item)


@given(dims, dims)
def test_a_parcel_never_fits_a_box_of_less_volume(item: Dimensions, box: Dimensions) -> None:
    assume(box.volume_mm3 < item.volume_mm3)
    assert not item.fits_inside(box)


# --- booking requirements ----------------------------------------------------------------------


def test_a_requirement_needs_a_class_or_dimensions() -> None:
    with pytest.raises(ValueError, match="size class or parcel dimensions"):
        SizeRequirement()
    with pytest.raises(ValueError, match="size class or parcel dimensions"):
        SizeRequirement(weight_g=1_000)


@pytest.mark.parametrize("weight", [0, -1, -10_000])
def test_a_requirement_refuses_a_non_positive_weight(weight: int) -> None:
    with pytest.raises(ValueError, match="positive grams"):
        SizeRequirement(size_class=S, weight_g=weight)


@pytest.mark.parametrize("wanted", ORDER)
@pytest.mark.parametrize("offered", ORDER)
def test_by_class_any_class_at_least_as_big_will_do(wanted: SizeClass, offered: SizeClass) -> None:
    spec = STANDARD_SIZES[offered]
    need = SizeRequirement(size_class=wanted)
    assert need.accepts(offered, spec.inside, spec.max_weight_g) is (offered.rank >= wanted.rank)


def test_by_dimensions_the_class_name_does_not_matter() -> None:
    need = SizeRequirement(dimensions=Dimensions(150, 600, 300))
    fits = [s for s in ORDER if need.accepts(s, STANDARD_SIZES[s].inside, 50_000)]
    assert fits == [S, M, L, XL]
    # A box measured bigger than its class label still takes it; a smaller one does not.
    assert need.accepts(XS, Dimensions(380, 150, 640), 50_000)
    assert not need.accepts(XL, Dimensions(149, 800, 640), 50_000)


@pytest.mark.parametrize(
    ("weight", "limit", "ok"),
    [(9_999, 10_000, True), (10_000, 10_000, True), (10_001, 10_000, False)],
)
def test_the_weight_limit_is_inclusive(weight: int, limit: int, ok: bool) -> None:
    by_class = SizeRequirement(size_class=S, weight_g=weight)
    by_dims = SizeRequirement(dimensions=Dimensions(10, 10, 10), weight_g=weight)
    inside = STANDARD_SIZES[S].inside
    assert by_class.accepts(S, inside, limit) is ok
    assert by_dims.accepts(S, inside, limit) is ok


def test_class_and_dimensions_must_both_be_met() -> None:
    need = SizeRequirement(size_class=M, dimensions=Dimensions(500, 500, 500))
    assert not need.accepts(M, STANDARD_SIZES[M].inside, 20_000)  # class ok, 500 > 410
    assert not need.accepts(S, Dimensions(600, 600, 600), 20_000)  # fits, class too small
    assert need.accepts(L, STANDARD_SIZES[L].inside, 20_000)


# --- ranking compartments ----------------------------------------------------------------------


def test_the_smallest_fitting_available_box_comes_first() -> None:
    boxes = [
        _box("XL1", XL),
        _box("S1", S, C.RESERVED),
        _box("M1", M),
        _box("S2", S, C.OCCUPIED),
        _box("S3", S, C.OUT_OF_SERVICE),
        _box("XS1", XS),
        _box("L1", L),
    ]
    need = SizeRequirement(dimensions=Dimensions(150, 300, 500))
    assert [b.code for b in rank_candidates(boxes, need)] == ["M1", "L1", "XL1"]
    assert [b.code for b in rank_candidates(boxes, SizeRequirement(size_class=XS))] == [
        "XS1",
        "M1",
        "L1",
        "XL1",
    ]


def test_too_heavy_for_every_box_gives_no_candidate() -> None:
    boxes = [_box(f"B{s}", s) for s in ORDER]
    assert rank_candidates(boxes, SizeRequirement(size_class=XS, weight_g=30_001)) == []
    assert [
        b.code for b in rank_candidates(boxes, SizeRequirement(size_class=XS, weight_g=20_001))
    ] == ["BL", "BXL"]


def test_ties_are_broken_by_class_then_volume_then_code() -> None:
    big_s = Dimensions(400, 200, 700)
    boxes = [
        _box("M9", M, inside=Dimensions(380, 200, 640)),  # smaller than big_s, but class M
        _box("S9", S, inside=big_s),
        _box("S2", S),
        _box("S1", S),
        _box("S0", S, inside=big_s),
    ]
    random.Random(7).shuffle(boxes)
    ranked = rank_candidates(boxes, SizeRequirement(size_class=S))
    assert [b.code for b in ranked] == ["S1", "S2", "S0", "S9", "M9"]


@given(
    st.lists(st.tuples(st.sampled_from(ORDER), st.sampled_from(list(C)), dims), max_size=20),
    dims,
)
def test_ranking_is_the_sorted_list_of_available_boxes_that_take_the_parcel(
    rows: list[tuple[SizeClass, CompartmentState, Dimensions]], parcel: Dimensions
) -> None:
    boxes = [_box(f"B{i:02}", size, state, inside) for i, (size, state, inside) in enumerate(rows)]
    ranked = rank_candidates(boxes, SizeRequirement(dimensions=parcel))
    assert {b.code for b in ranked} == {
        b.code for b in boxes if b.state is C.AVAILABLE and parcel.fits_inside(b.inside)
    }
    keys = [(b.size_class.rank, b.inside.volume_mm3, b.code) for b in ranked]
    assert keys == sorted(keys)
