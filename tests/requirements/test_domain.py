"""Delivery requirements in the domain: which doors qualify, and why none does."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.domain.compartment import Compartment, rank_candidates
from gateway.domain.enums import SizeClass
from gateway.domain.requirements import (
    CompartmentTraits,
    DeliveryRequirements,
    HeightRange,
    PickupCheck,
    TemperatureClass,
)
from gateway.domain.sizes import STANDARD_SIZES, SizeRequirement

CHILLED, FROZEN, AMBIENT = (
    TemperatureClass.CHILLED,
    TemperatureClass.FROZEN,
    TemperatureClass.AMBIENT,
)
REACH = HeightRange(400, 1200)


def door(code: str, size: SizeClass, *, temp: TemperatureClass = AMBIENT, floor: int | None = None,
         alarm: bool = False) -> Compartment:  # fmt: skip
    spec = STANDARD_SIZES[size]
    return Compartment("L1", code, size, spec.inside, spec.max_weight_g, temperature=temp,
                       floor_mm=floor, temperature_alarm=alarm)  # fmt: skip


def test_the_reach_range_holds_the_whole_compartment() -> None:
    # An S door is 190 mm high: floor 400..1010 fits 400..1200.
    assert REACH.contains(400, 190)
    assert REACH.contains(1010, 190)
    assert not REACH.contains(1011, 190)  # its top would be at 1201
    assert not REACH.contains(399, 190)
    assert not REACH.contains(None, 190)  # position never declared
    with pytest.raises(ValueError, match="min < max"):
        HeightRange(1200, 400)


def test_allocation_order_honours_every_requirement() -> None:
    doors = [
        door("A01", SizeClass.S, floor=100),
        door("A02", SizeClass.S, floor=600),
        door("K01", SizeClass.M, temp=CHILLED, floor=800),
        door("K02", SizeClass.S, temp=CHILLED, floor=300, alarm=True),
        door("F01", SizeClass.M, temp=FROZEN, floor=700),
    ]

    def codes(**wanted: object) -> list[str]:
        need = SizeRequirement(SizeClass.S, requirements=DeliveryRequirements(**wanted))  # type: ignore[arg-type]
        return [c.code for c in rank_candidates(doors, need)]

    assert codes() == ["A01", "A02"]  # ambient only, never a cold door
    assert codes(accessible=REACH) == ["A02"]
    assert codes(temperature=CHILLED) == ["K01"]  # K02 is smaller but out of range
    assert codes(temperature=FROZEN, accessible=REACH) == ["F01"]
    assert codes(temperature=CHILLED, accessible=REACH) == []  # K01's top is at 1210
    # A pickup check chooses no door.
    assert codes(pickup_check=PickupCheck(minimum_age=18)) == ["A01", "A02"]


def test_unmet_names_each_requirement_no_door_meets() -> None:
    traits = [CompartmentTraits(AMBIENT, 100, 190), CompartmentTraits(CHILLED, 900, 410)]
    wanted = DeliveryRequirements(accessible=HeightRange(1500, 2000), temperature=FROZEN)
    assert [(u.pointer, u.reason) for u in wanted.unmet(traits)] == [
        ("/requirements/temperatureClass", "the locker has no frozen compartment"),
        ("/requirements/accessibleHeightMm", "no compartment lies within 1500..2000 mm"),
    ]
    # Each met by some door (chilled K at 900, ambient within 50..400): nothing named alone.
    both = DeliveryRequirements(accessible=HeightRange(50, 400), temperature=CHILLED)
    assert both.unmet(traits) == []
    # An alarm is temporary: it never makes a requirement unmeetable.
    alarmed = [CompartmentTraits(CHILLED, 900, 410, temperature_alarm=True)]
    assert DeliveryRequirements(temperature=CHILLED).unmet(alarmed) == []


def test_json_round_trip_and_emptiness() -> None:
    wanted = DeliveryRequirements(
        accessible=REACH, temperature=CHILLED, pickup_check=PickupCheck(minimum_age=18)
    )
    data = wanted.to_json()
    assert data == {
        "accessibleHeightMm": {"min": 400, "max": 1200},
        "temperatureClass": "chilled",
        "pickupCheck": {"minimumAge": 18},
    }
    assert DeliveryRequirements.from_json(data) == wanted
    assert DeliveryRequirements().to_json() is None
    assert DeliveryRequirements.from_json(None) == DeliveryRequirements()


@pytest.mark.parametrize(("age", "identity"), [(None, False), (15, False), (22, True)])
def test_a_pickup_check_must_ask_something_sensible(age: int | None, identity: bool) -> None:
    with pytest.raises(ValueError, match=r"pickup check needs|minimumAge must be"):
        PickupCheck(minimum_age=age, identity=identity)


def test_the_cli_names_cold_doors_when_it_provisions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.cli import main

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    layout = Path(__file__).resolve().parents[1] / "fixtures" / "gda-cold.yaml"
    assert main(["--database-url", url, "locker", "add", str(layout)]) == 0
    out = capsys.readouterr().out
    assert "7 compartments (3xS, 1xS chilled, 1xM, 1xM chilled, 1xM frozen)" in out
