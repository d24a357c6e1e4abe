"""Adapters are found through the `openlocker.adapters` entry-point group, built-in or not."""

from __future__ import annotations

from importlib.metadata import entry_points

from gateway.sdk.adapter import LockerAdapter
from gateway.sdk.errors import AdapterConfigError

ENTRY_POINT_GROUP = "openlocker.adapters"


def available_adapters() -> list[str]:
    """The names of every installed adapter, built-in or third-party."""
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def load_adapter_class(name: str) -> type[LockerAdapter]:
    """The adapter class registered as `name`; AdapterConfigError when there is none."""
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not matches:
        known = ", ".join(available_adapters()) or "none installed"
        raise AdapterConfigError(f"no locker adapter {name!r} (known: {known})")
    loaded = matches[0].load()
    if not isinstance(loaded, type) or not all(
        hasattr(loaded, attr) for attr in ("name", "features", "config_model", "open_compartment")
    ):
        raise AdapterConfigError(f"entry point {name!r} does not name a LockerAdapter class")
    adapter: type[LockerAdapter] = loaded
    return adapter
