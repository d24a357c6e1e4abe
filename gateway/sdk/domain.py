"""Domain vocabulary adapters need (re-exported so adapters import only the SDK)."""

from gateway.domain.door import FaultKind, OpenOutcome, OpenPurpose
from gateway.domain.enums import DoorState, ItemSensor, SizeClass
from gateway.domain.requirements import PickupCheck

__all__ = [
    "DoorState",
    "FaultKind",
    "ItemSensor",
    "OpenOutcome",
    "OpenPurpose",
    "PickupCheck",
    "SizeClass",
]
