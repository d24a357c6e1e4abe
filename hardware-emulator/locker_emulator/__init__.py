"""OpenLocker hardware emulator: virtual locker banks speaking OLP v1 over MQTT, with faults."""

from locker_emulator.bank import EmulatorBank
from locker_emulator.control_api import ControlApi
from locker_emulator.faults import FaultError, FaultFlag, LockerFaults, Outage, parse_fault_flag
from locker_emulator.layout import (
    CompartmentConfig,
    LayoutError,
    LockerConfig,
    load_layout,
    preset_lockers,
)
from locker_emulator.locker_state import UnknownCompartment
from locker_emulator.olp_client import EmulatedLocker, Timing
from locker_emulator.physics import (
    CompartmentFaults,
    DoorState,
    ItemSensor,
    PhysicsError,
    UnlockOutcome,
)
from locker_emulator.scenario import ScenarioError, load_scenario, run_scenario
from locker_emulator.spec import Spec, SpecError
from locker_emulator.transport import MqttVersion

__all__ = [
    "CompartmentConfig",
    "CompartmentFaults",
    "ControlApi",
    "DoorState",
    "EmulatedLocker",
    "EmulatorBank",
    "FaultError",
    "FaultFlag",
    "ItemSensor",
    "LayoutError",
    "LockerConfig",
    "LockerFaults",
    "MqttVersion",
    "Outage",
    "PhysicsError",
    "ScenarioError",
    "Spec",
    "SpecError",
    "Timing",
    "UnknownCompartment",
    "UnlockOutcome",
    "load_layout",
    "load_scenario",
    "parse_fault_flag",
    "preset_lockers",
    "run_scenario",
]
