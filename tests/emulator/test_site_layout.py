"""One site layout file for both sides: the gateway provisions it, the emulator builds it."""

from __future__ import annotations

from pathlib import Path

import pytest
from locker_emulator.layout import LayoutError, load_layout

from gateway.service.layouts import parse_layout

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize("name", ["waw-central.yaml", "krk-main.yaml"])
def test_the_emulator_builds_the_doors_the_gateway_provisions(name: str) -> None:
    text = (FIXTURES / name).read_text()
    locker, doors = parse_layout(text).to_domain()
    (hardware,) = load_layout(FIXTURES / name)
    assert hardware.locker_id == locker.id
    built = [(c.code, c.size_class) for c in hardware.compartments]
    assert built == [(d.code, str(d.size_class)) for d in doors]
    # The network's features (keypad, qr) are not what the controller announces at Boot.
    assert "qr" not in hardware.features


def test_a_site_layout_with_a_bad_bank_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: BAD-01\nname: Bad\nbanks:\n  - {prefix: S, count: 0, sizeClass: S}\n")
    with pytest.raises(LayoutError, match="count"):
        load_layout(bad)
    # A fleet layout keeps refusing the gateway-only members: they belong to a site layout.
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("lockers:\n  - {id: F-01, name: F, preset: small}\n")
    with pytest.raises(LayoutError, match="unknown member"):
        load_layout(fleet)
