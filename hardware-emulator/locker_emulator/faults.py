"""Fault injection settings, per locker and per compartment, from CLI flags, YAML or JSON."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from locker_emulator.physics import CompartmentFaults

# An outage named without a duration (`--fault EMU-001:offline`) lasts this long.
DEFAULT_OUTAGE_SECONDS = 10.0


class FaultError(ValueError):
    """A fault setting that does not exist or has a value of the wrong type."""


@dataclass(frozen=True, slots=True)
class LockerFaults:
    """Faults of a whole locker that stay set until changed."""

    # Seconds the locker waits before acting on and answering a command.
    slow_replies: float = 0.0
    # Seconds added to every `ts` (and `exp`) the locker sends: its clock is off.
    clock_skew: float = 0.0


@dataclass(frozen=True, slots=True)
class Outage:
    """One abrupt loss of the connection (no DISCONNECT packet, so the broker sends the will).

    With `power_loss` the locker also reboots: on return it reports a PowerLoss fault. Its
    buffered events, `seq` and door states survive either way, because a real locker keeps its
    event buffer in flash and its doors do not move while it is dark.
    """

    seconds: float
    power_loss: bool = False


LOCKER_FAULTS = ("slow_replies", "clock_skew", "offline", "power_loss")
COMPARTMENT_FAULTS = tuple(f.name for f in fields(CompartmentFaults))


@dataclass(frozen=True, slots=True)
class FaultFlag:
    """One `--fault` flag: `LOCKER:name[=value]` or `LOCKER/COMPARTMENT:name[=value]`."""

    locker_id: str
    compartment_code: str | None
    name: str
    value: Any


def _number(name: str, value: object, *, minimum: float | None = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FaultError(f"{name} must be a number of seconds, not {value!r}")
    if minimum is not None and value < minimum:
        raise FaultError(f"{name} must be at least {minimum:g} seconds, not {value!r}")
    return float(value)


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise FaultError(f"{name} must be true or false, not {value!r}")
    return value


def update_locker_faults(
    current: LockerFaults, changes: Mapping[str, object]
) -> tuple[LockerFaults, Outage | None]:
    """Apply the named changes (others keep their value); `offline`/`power_loss` start an outage."""
    unknown = sorted(set(changes) - set(LOCKER_FAULTS))
    if unknown:
        raise FaultError(
            f"unknown locker fault(s) {', '.join(unknown)}; known: {', '.join(LOCKER_FAULTS)}"
        )
    faults = current
    if "slow_replies" in changes:
        faults = replace(faults, slow_replies=_number("slow_replies", changes["slow_replies"]))
    if "clock_skew" in changes:
        skew = _number("clock_skew", changes["clock_skew"], minimum=None)
        faults = replace(faults, clock_skew=skew)
    outage = None
    for name in ("offline", "power_loss"):
        if name in changes and changes[name] is not None:
            seconds = _number(name, changes[name])
            outage = Outage(seconds=seconds, power_loss=name == "power_loss")
    return faults, outage


def update_compartment_faults(
    current: CompartmentFaults, changes: Mapping[str, object]
) -> CompartmentFaults:
    """Apply the named changes; `door_left_open: null` switches that alarm off."""
    unknown = sorted(set(changes) - set(COMPARTMENT_FAULTS))
    if unknown:
        raise FaultError(
            f"unknown compartment fault(s) {', '.join(unknown)}; "
            f"known: {', '.join(COMPARTMENT_FAULTS)}"
        )
    faults = current
    for name in ("jammed", "stuck_lock", "lying_sensor"):
        if name in changes:
            faults = replace(faults, **{name: _flag(name, changes[name])})
    if "door_left_open" in changes:
        limit = changes["door_left_open"]
        seconds = None if limit is None or limit is False else _number("door_left_open", limit)
        faults = replace(faults, door_left_open=seconds)
    return faults


def locker_faults_json(faults: LockerFaults) -> dict[str, Any]:
    """The locker's standing faults as JSON."""
    return {"slow_replies": faults.slow_replies, "clock_skew": faults.clock_skew}


def compartment_faults_json(faults: CompartmentFaults) -> dict[str, Any]:
    """One compartment's faults as JSON."""
    return {name: getattr(faults, name) for name in COMPARTMENT_FAULTS}


def _flag_value(name: str, raw: str | None) -> Any:
    if name in ("jammed", "stuck_lock", "lying_sensor"):
        if raw is None or raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise FaultError(f"{name} takes true or false, not {raw!r}")
    if raw is None:
        if name in ("offline", "power_loss"):
            return DEFAULT_OUTAGE_SECONDS
        raise FaultError(f"{name} needs a value in seconds, e.g. {name}=5")
    try:
        return float(raw)
    except ValueError:
        raise FaultError(f"{name} takes a number of seconds, not {raw!r}") from None


def parse_fault_flag(text: str) -> FaultFlag:
    """Parse `EMU-001:slow_replies=2`, `EMU-001:offline=30`, `EMU-001/A01:jammed`..."""
    target, sep, setting = text.partition(":")
    if not sep or not target or not setting:
        raise FaultError(f"--fault {text!r}: expected LOCKER[/COMPARTMENT]:NAME[=VALUE]")
    locker_id, _, compartment = target.partition("/")
    name, has_value, raw = setting.partition("=")
    known = COMPARTMENT_FAULTS if compartment else LOCKER_FAULTS
    if name not in known:
        scope = "compartment" if compartment else "locker"
        raise FaultError(
            f"--fault {text!r}: {name!r} is no {scope} fault; known: {', '.join(known)}"
        )
    value = _flag_value(name, raw if has_value else None)
    return FaultFlag(locker_id, compartment or None, name, value)
