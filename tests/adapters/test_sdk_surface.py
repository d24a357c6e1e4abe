"""The public adapter SDK exports what vendors need, each name documented, and nothing internal."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import gateway.sdk
from gateway.wire import olp_enums

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "adapters" / "GUIDE.md"

# Changing this list changes the SDK's public surface: update GUIDE.md's table with it.
PUBLIC = {
    # the contract, booting and status
    "LockerAdapter", "AdapterFeatures", "AdapterConfig", "AdapterHost", "SupportsDisplay",
    "BootInfo", "BootDecision", "BootStatus", "CompartmentInfo", "LockerStatus",
    # events and their vocabulary
    "LockerEvent", "DoorOpened", "DoorClosed", "CodeEntered", "LockerFault", "PresenceChanged",
    "JournalReported", "GrantUse", "OpenOutcome", "OpenPurpose", "FaultKind", "DoorState",
    "ItemSensor", "SizeClass",
    # errors
    "OpenLockerError", "AdapterError", "AdapterConnectionError", "LockerNotConnected",
    "AdapterProtocolError", "AdapterTimeout", "AdapterConfigError",
    # running: lanes, lifetime, back-off
    "LockerLanes", "LaneStats", "TaskSet", "background", "backoff_s",
    # boards that must be polled
    "SerialBus", "SerialSettings", "ReplyReader", "PollTracker", "DoorReading", "unpack_bits",
    "PolledLocker", "BoardEvents", "poll_forever", "seconds_left",
    # optional features
    "SupportsKeySet", "KeySet", "KeySetRefused", "SupportsEventReplay", "ReplayReport",
    "SupportsAvailability", "SupportsDropCounts", "SupportsPickupCheck", "PickupCheck",
    # registration
    "ENTRY_POINT_GROUP", "available_adapters", "load_adapter_class",
}  # fmt: skip


def test_the_sdk_exports_exactly_the_public_names() -> None:
    assert set(gateway.sdk.__all__) == PUBLIC
    assert len(gateway.sdk.__all__) == len(PUBLIC), "a name is listed twice in __all__"
    for name in gateway.sdk.__all__:
        assert hasattr(gateway.sdk, name), f"gateway.sdk.__all__ names {name}, which is missing"


def test_every_public_name_is_documented() -> None:
    guide = GUIDE.read_text()
    in_guide = set(re.findall(r"`(\w+)", guide))
    undocumented = [
        name
        for name in gateway.sdk.__all__
        if name not in in_guide and not _own_docstring(getattr(gateway.sdk, name))
    ]
    assert not undocumented, f"neither in GUIDE.md nor with a docstring: {undocumented}"
    # The guide's table of exports is the list: every name in it, in backticks.
    table = guide.split("## What `gateway.sdk` exports", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"`(\w+)`", table)) >= PUBLIC


def test_nothing_internal_leaks_through_the_sdk_package() -> None:
    # Modules of the gateway's inner layers are never reachable as attributes of the SDK.
    internal = ("gateway.store", "gateway.service", "gateway.http", "gateway.settings")
    for name in gateway.sdk.__all__:
        module = getattr(getattr(gateway.sdk, name), "__module__", "") or ""
        assert not module.startswith(internal), f"{name} comes from {module}"
    for module_name in ("adapter", "boards", "polling", "serial", "events", "journal", "errors"):
        module = importlib.import_module(f"gateway.sdk.{module_name}")
        for name in getattr(module, "__all__", ()):
            assert hasattr(module, name), f"gateway.sdk.{module_name}.__all__ names {name}"


def test_boot_status_lives_in_the_sdk_and_the_wire_names_the_same_enum() -> None:
    assert gateway.sdk.BootStatus.__module__ == "gateway.sdk.adapter"
    assert olp_enums.BootStatus is gateway.sdk.BootStatus
    assert [s.value for s in gateway.sdk.BootStatus] == ["Accepted", "Pending", "Rejected"]


def _own_docstring(obj: object) -> bool:
    """A docstring written for this object (not inherited, not a dataclass's generated one)."""
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__")
        if dataclasses.is_dataclass(obj) and doc and doc.startswith(f"{obj.__name__}("):
            return False
        return bool(doc and doc.strip())
    return bool(inspect.getdoc(obj)) and callable(obj)
