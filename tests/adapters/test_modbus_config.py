"""The modbus adapter's configuration: what it accepts, what it refuses, and how it is found."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from adapters.modbus import ModbusAdapter, ModbusConfig
from adapters.modbus.config import Framing
from adapters.modbus.registers import stuck_locks
from gateway.sdk import load_adapter_class


def locker(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "url": "tcp://10.0.0.5:502",
        "unit": 1,
        "compartments": {"A01": {"lock": 1, "size_class": "S"}},
    }
    return base | overrides


def test_the_entry_point_names_the_adapter() -> None:
    assert load_adapter_class("modbus") is ModbusAdapter


def test_a_full_config_parses_with_framing_from_the_url() -> None:
    config = ModbusConfig.model_validate(
        {
            "lockers": {
                "L-1": locker(),
                "L-2": locker(
                    url="/dev/ttyUSB0",
                    unit=2,
                    baudrate=9600,
                    parity="E",
                    locks=16,
                    registers={"coil_base": 16, "item_base": None, "fault_base": None},
                ),
            },
            "poll_interval_s": 0.2,
            "lenient": True,
        }
    )
    assert config.lockers["L-1"].framing is Framing.TCP
    rtu = config.lockers["L-2"]
    assert rtu.framing is Framing.RTU
    assert rtu.lock_count == 16
    assert rtu.registers.coil(3) == 18
    assert config.lockers["L-1"].lock_count == 1  # the highest lock in use


@pytest.mark.parametrize(
    ("lockers", "fragment"),
    [
        ({"L-1": locker(url="tcp://host-without-port")}, "tcp://host:port"),
        ({"L-1": locker(url="tcp://h:99999")}, "port"),
        ({"L-1": locker(url=" ")}, "must not be empty"),
        ({"L-1": locker(url="modbus://h:502")}, "unknown scheme"),
        ({"L-1": locker(unit=0)}, "greater than or equal to 1"),
        ({"L-1": locker(unit=248)}, "less than or equal to 247"),
        ({"L-1": locker(compartments={})}, "at least 1"),
        (
            {
                "L-1": locker(
                    compartments={
                        "A01": {"lock": 1, "size_class": "S"},
                        "A02": {"lock": 1, "size_class": "M"},
                    }
                )
            },
            "share one lock",
        ),
        ({"L-1": locker(locks=1, compartments={"A": {"lock": 2, "size_class": "S"}})}, "beyond"),
        ({"L-1": locker(compartments={"A": {"lock": 1, "size_class": "XXL"}})}, "size_class"),
        ({"bad id!": locker()}, "bad locker id"),
        ({"L-1": locker(url="socket://h:1"), "L-2": locker(url="socket://h:1")}, "unit"),
        (
            {
                "L-1": locker(url="socket://h:1"),
                "L-2": locker(url="socket://h:1", unit=2, parity="E"),
            },
            "different serial settings",
        ),
        ({"L-1": locker(registers={"coil_base": -1})}, "coil_base"),
        ({"L-1": locker(typo=1)}, "typo"),
    ],
)
def test_bad_configs_are_refused_with_a_reason(lockers: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as refused:
        ModbusConfig.model_validate({"lockers": lockers})
    assert fragment in str(refused.value)


def test_timings_are_bounded() -> None:
    with pytest.raises(ValidationError):
        ModbusConfig(poll_interval_s=0)
    with pytest.raises(ValidationError):
        ModbusConfig(timeout_s=-1)


def test_stuck_bits_are_read_lsb_first_per_register() -> None:
    assert stuck_locks([0b1000_0000_0000_0001, 0b10], 18) == frozenset({1, 16, 18})
