"""Locker locations (validation, great-circle distance) and per-size availability."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.domain.enums import CompartmentState, SizeClass
from gateway.domain.locker import EARTH_RADIUS_M, Location, SizeAvailability, availability

from .builders import compartment

C = CompartmentState
WARSAW = Location(52.2297, 21.0122, "Warszawa")
KRAKOW = Location(50.0647, 19.9450, "Kraków")

latitudes = st.floats(min_value=-90, max_value=90)
longitudes = st.floats(min_value=-180, max_value=180)
locations = st.builds(Location, latitudes, longitudes)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(90.0, 180.0), (-90.0, -180.0), (0.0, 0.0), (52.2297, 21.0122)],
)
def test_valid_locations(lat: float, lon: float) -> None:
    assert (Location(lat, lon).lat, Location(lat, lon).lon) == (lat, lon)


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (90.0001, 0.0),
        (-90.0001, 0.0),
        (0.0, 180.0001),
        (0.0, -180.0001),
        (math.nan, 0.0),
        (0.0, math.nan),
        (math.inf, 0.0),
        (0.0, -math.inf),
        (21.0122, 252.2297),  # swapped and shifted: a typical data-entry error
    ],
)
def test_invalid_locations_are_refused(lat: float, lon: float) -> None:
    with pytest.raises(ValueError, match="latitude"):
        Location(lat, lon)


def test_warsaw_to_krakow_is_about_252_km() -> None:
    assert WARSAW.distance_m(KRAKOW) == pytest.approx(252_000, rel=0.01)


def test_one_degree_along_a_meridian() -> None:
    # An arc of pi/180 radians on the mean Earth sphere.
    expected = EARTH_RADIUS_M * math.pi / 180
    assert expected == pytest.approx(111_195, abs=1)
    assert Location(0, 0).distance_m(Location(1, 0)) == pytest.approx(expected, rel=1e-9)
    assert Location(60, 30).distance_m(Location(61, 30)) == pytest.approx(expected, rel=1e-9)


def test_a_degree_of_longitude_shrinks_with_latitude() -> None:
    equator = Location(0, 0).distance_m(Location(0, 1))
    at_60 = Location(60, 0).distance_m(Location(60, 1))
    assert at_60 == pytest.approx(equator / 2, rel=1e-3)


def test_antipodes_are_half_a_circumference_apart() -> None:
    half = math.pi * EARTH_RADIUS_M
    assert Location(0, 0).distance_m(Location(0, 180)) == pytest.approx(half, rel=1e-9)
    assert Location(90, 0).distance_m(Location(-90, 0)) == pytest.approx(half, rel=1e-9)
    assert Location(52.2297, 21.0122).distance_m(Location(-52.2297, -158.9878)) == (
        pytest.approx(half, rel=1e-9)
    )


def test_across_the_date_line_is_the_short_way() -> None:
    assert Location(0, 179.5).distance_m(Location(0, -179.5)) == pytest.approx(
        EARTH_RADIUS_M * math.pi / 180, rel=1e-9
    )


@given(locations)
def test_distance_to_itself_is_zero(here: Location) -> None:
    assert here.distance_m(here) == 0.0


@given(locations, locations)
def test_distance_is_symmetric_and_bounded(a: Location, b: Location) -> None:
    d = a.distance_m(b)
    assert 0.0 <= d <= math.pi * EARTH_RADIUS_M * (1 + 1e-12)
    assert d == pytest.approx(b.distance_m(a), rel=1e-9, abs=1e-6)


@given(locations, locations, locations)
def test_distance_obeys_the_triangle_inequality(a: Location, b: Location, c: Location) -> None:
    # Haversine is ill-conditioned near antipodes (asin close to 1): allow a metre there.
    assert a.distance_m(c) <= a.distance_m(b) + b.distance_m(c) + 1.0


def test_availability_counts_per_class_smallest_first_and_omits_absent_classes() -> None:
    boxes = [
        compartment("X1", SizeClass.XL),
        compartment("M1", SizeClass.M, C.OCCUPIED, "p-1"),
        compartment("S1", SizeClass.S),
        compartment("M2", SizeClass.M),
        compartment("S2", SizeClass.S, C.RESERVED, "p-2"),
        compartment("M3", SizeClass.M, C.OUT_OF_SERVICE),
        compartment("S3", SizeClass.S),
        compartment("X2", SizeClass.XL, C.OUT_OF_SERVICE, "p-3"),
    ]
    assert availability(boxes) == [
        SizeAvailability(SizeClass.S, available=2, total=3),
        SizeAvailability(SizeClass.M, available=1, total=3),
        SizeAvailability(SizeClass.XL, available=1, total=2),
    ]


def test_availability_of_no_compartments_is_empty() -> None:
    assert availability([]) == []
    assert availability(iter([compartment("A1", SizeClass.XS)])) == [
        SizeAvailability(SizeClass.XS, 1, 1)
    ]


@given(st.lists(st.tuples(st.sampled_from(list(SizeClass)), st.sampled_from(list(C))), max_size=30))
def test_availability_matches_a_plain_count(rows: list[tuple[SizeClass, CompartmentState]]) -> None:
    boxes = [compartment(f"B{i}", size, state) for i, (size, state) in enumerate(rows)]
    result = availability(boxes)
    assert [r.size_class for r in result] == [s for s in SizeClass if any(r[0] is s for r in rows)]
    for r in result:
        assert r.total == sum(1 for size, _ in rows if size is r.size_class)
        assert r.available == sum(
            1 for size, state in rows if size is r.size_class and state is C.AVAILABLE
        )
