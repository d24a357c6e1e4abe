"""The emulator's side of delivery requirements: layouts with temperature classes, the
thermometer and its alarm, and the pickup check in commands and grants (no broker needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from locker_emulator import Spec, physics
from locker_emulator.layout import LayoutError, load_layout
from locker_emulator.locker_state import event_payload
from locker_emulator.messages import PayloadError, check_text, parse_command

from tests.emulator.conftest import make_bank
from tests.emulator.fake_gateway import FakeGateway, is_event
from tests.support.mosquitto import Mosquitto

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_the_site_layout_declares_cold_doors_for_the_hardware_too() -> None:
    (locker,) = load_layout(FIXTURES / "gda-cold.yaml")
    classes = {c.code: c.temperature_class for c in locker.compartments}
    assert classes == {
        "A01": "ambient", "A02": "ambient", "A03": "ambient", "B01": "ambient",
        "K01": "chilled", "K02": "chilled", "F01": "frozen",
    }  # fmt: skip


def test_an_unknown_temperature_class_is_a_layout_error(tmp_path: Path) -> None:
    layout = tmp_path / "bad.yaml"
    layout.write_text(
        "lockers:\n  - id: X1\n    compartments:\n"
        "      - {code: A01, sizeClass: S, temperatureClass: warm}\n"
    )
    with pytest.raises(LayoutError, match="temperatureClass 'warm'"):
        load_layout(layout)
    banks = tmp_path / "banks.yaml"
    banks.write_text(
        "lockers:\n  - id: X2\n    banks:\n"
        "      - {prefix: K, count: 2, sizeClass: M, temperatureClass: frozen}\n"
    )
    (locker,) = load_layout(banks)
    assert [c.temperature_class for c in locker.compartments] == ["frozen", "frozen"]


def test_the_alarm_is_raised_and_cleared_once() -> None:
    fridge = physics.Compartment("K01", "M", temperature_class="chilled", celsius=5.0)
    warm = physics.read_temperature(fridge, 9.5)
    (raised,) = warm.events
    assert isinstance(raised, physics.FaultRaised)
    assert event_payload(raised) == (
        "Fault",
        {
            "fault": "TemperatureOutOfRange",
            "description": raised.description,
            "compartmentCode": "K01",
            "temperatureC": 9.5,
        },
    )
    # Still out of range: a new reading, no second alarm.
    warmer = physics.read_temperature(warm.compartment, 12.0)
    assert warmer.events == ()
    assert warmer.compartment.celsius == 12.0
    back = physics.read_temperature(warmer.compartment, 8.0)  # the range includes its ends
    (cleared,) = back.events
    assert isinstance(cleared, physics.FaultRaised)
    assert cleared.cleared
    assert physics.read_temperature(back.compartment, 3.0).events == ()


def test_a_frozen_door_alarms_above_minus_15() -> None:
    freezer = physics.Compartment("F01", "M", temperature_class="frozen", celsius=-20.0)
    assert physics.read_temperature(freezer, -15.0).events == ()
    assert len(physics.read_temperature(freezer, -14.5).events) == 1
    with pytest.raises(physics.PhysicsError, match="ambient"):
        physics.read_temperature(physics.Compartment("A01", "S"), 20.0)


def test_open_compartment_takes_a_pickup_check() -> None:
    command = parse_command(
        "OpenCompartment",
        {"compartmentCode": "A01", "purpose": "pickup", "pickupCheck": {"minimumAge": 18}},
    )
    assert command.pickup_check == {"minimumAge": 18}  # type: ignore[union-attr]
    assert check_text({"minimumAge": 18, "identity": True}) == (
        "ID check: show proof of age 18+ and identity"
    )
    for bad in ({}, {"identity": False}, {"minimumAge": 30}, {"age": 18}):
        with pytest.raises(PayloadError):
            parse_command(
                "OpenCompartment",
                {"compartmentCode": "A01", "purpose": "pickup", "pickupCheck": bad},
            )


async def test_the_control_api_sets_a_reading_and_the_fault_goes_out(
    broker: Mosquitto, spec: Spec, gateway: FakeGateway
) -> None:
    lockers = load_layout(FIXTURES / "gda-cold.yaml")
    async with make_bank(broker, spec, lockers=lockers, control_port=0) as bank:
        async with asyncio.timeout(5):
            await bank.wait_all_booted()
        assert bank.control_url is not None
        base = f"{bank.control_url}/lockers/GDA-COLD-01/compartments"
        async with aiohttp.ClientSession() as http:
            async with http.put(f"{base}/K01/temperature", json={"celsius": 11}) as answer:
                assert answer.status == 200
                k01 = (await answer.json())["compartment"]
            assert (k01["temperatureClass"], k01["temperatureC"]) == ("chilled", 11.0)
            assert k01["activeFaults"] == ["TemperatureOutOfRange"]
            seen = await gateway.wait_for(is_event("Fault", "GDA-COLD-01"))
            assert seen.payload["temperatureC"] == 11.0
            assert seen.payload["fault"] == "TemperatureOutOfRange"
            for code, body, status in (
                ("A01", {"celsius": 30}, 409),  # ambient: no thermometer
                ("K01", {"celsius": "hot"}, 400),
                ("K01", {"celsius": 500}, 400),
                ("K01", {"celsius": 5, "unit": "C"}, 400),
                ("Z99", {"celsius": 5}, 404),
            ):
                async with http.put(f"{base}/{code}/temperature", json=body) as answer:
                    assert answer.status == status, (code, body)
