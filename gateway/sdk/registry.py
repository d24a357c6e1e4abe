"""Plugins are found through entry-point groups: `openlocker.adapters`, `openlocker.connectors`."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from gateway.errors import OpenLockerError
from gateway.sdk.adapter import LockerAdapter
from gateway.sdk.errors import AdapterConfigError

ENTRY_POINT_GROUP = "openlocker.adapters"


def registered_names(group: str) -> list[str]:
    """The names registered in an entry-point group, built-in or third-party."""
    return sorted(ep.name for ep in entry_points(group=group))


def load_registered(
    group: str,
    name: str,
    *,
    what: str,
    class_name: str,
    fits: Callable[[object], bool],
    error: Callable[[str], OpenLockerError],
) -> object:
    """The object registered as `name` in `group`, checked by `fits`; `error` when there is
    none ("no <what> ...") or it does not fit ("... does not name a <class_name> class")."""
    matches = [ep for ep in entry_points(group=group) if ep.name == name]
    if not matches:
        known = ", ".join(registered_names(group)) or "none installed"
        raise error(f"no {what} {name!r} (known: {known})")
    loaded = matches[0].load()
    if not fits(loaded):
        raise error(f"entry point {name!r} does not name a {class_name} class")
    return loaded


def available_adapters() -> list[str]:
    """The names of every installed adapter, built-in or third-party."""
    return registered_names(ENTRY_POINT_GROUP)


def load_adapter_class(name: str) -> type[LockerAdapter]:
    """The adapter class registered as `name`; AdapterConfigError when there is none."""
    loaded = load_registered(
        ENTRY_POINT_GROUP,
        name,
        what="locker adapter",
        class_name="LockerAdapter",
        fits=lambda obj: (
            isinstance(obj, type)
            and all(
                hasattr(obj, attr)
                for attr in ("name", "features", "config_model", "open_compartment")
            )
        ),
        error=AdapterConfigError,
    )
    adapter: type[LockerAdapter] = loaded  # type: ignore[assignment]
    return adapter
