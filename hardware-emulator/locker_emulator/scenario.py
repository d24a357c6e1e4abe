"""Scenario runner: YAML steps (wait, act at a door, keypad, faults, outages) against a bank."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from locker_emulator.faults import FaultError
from locker_emulator.locker_state import UnknownCompartment
from locker_emulator.olp_client import EmulatedLocker
from locker_emulator.physics import DoorState, PhysicsError

DEFAULT_WAIT_SECONDS = 30.0
_DOOR_STEPS = {"deposit", "take", "close", "leave_open"}
_STEPS = _DOOR_STEPS | {"wait_for", "keypad", "fault", "offline", "sleep"}
_WAIT_KEYS = {"locker", "compartment", "door", "booted", "online", "display", "timeout"}


class ScenarioError(Exception):
    """A scenario file that cannot be run, or a step that failed."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step: its kind (`deposit`, `wait_for`...) and its arguments."""

    kind: str
    args: Mapping[str, Any]

    def describe(self) -> str:
        if self.kind == "sleep":
            return f"sleep {self.args['seconds']} s"
        details = " ".join(f"{k}={v}" for k, v in self.args.items())
        return f"{self.kind} {details}".strip()


def parse_steps(document: object) -> list[Step]:
    """Steps from a loaded YAML document: `{steps: [...]}` or a bare list."""
    raw = document.get("steps") if isinstance(document, Mapping) else document
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("a scenario is a non-empty list of steps (or a mapping with `steps`)")
    steps: list[Step] = []
    for number, entry in enumerate(raw, start=1):
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise ScenarioError(f"step {number}: each step is a mapping with exactly one key")
        ((kind, args),) = entry.items()
        if kind not in _STEPS:
            raise ScenarioError(
                f"step {number}: unknown step {kind!r}; known: {', '.join(sorted(_STEPS))}"
            )
        if kind == "sleep":
            if isinstance(args, bool) or not isinstance(args, int | float) or args < 0:
                raise ScenarioError(f"step {number}: sleep takes a number of seconds")
            steps.append(Step(kind, {"seconds": args}))
            continue
        if not isinstance(args, Mapping) or "locker" not in args:
            raise ScenarioError(f"step {number}: {kind} needs a mapping with at least `locker`")
        if kind in _DOOR_STEPS and "compartment" not in args:
            raise ScenarioError(f"step {number}: {kind} needs `compartment`")
        if kind == "wait_for" and not set(args) <= _WAIT_KEYS:
            raise ScenarioError(
                f"step {number}: wait_for knows only {', '.join(sorted(_WAIT_KEYS))}"
            )
        steps.append(Step(kind, dict(args)))
    return steps


def load_scenario(path: Path) -> list[Step]:
    """Read and check a scenario file before anything runs."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ScenarioError(f"cannot read scenario {path}: {err}") from err
    return parse_steps(document)


def _condition(locker: EmulatedLocker, args: Mapping[str, Any]) -> Callable[[], bool]:
    checks: list[Callable[[], bool]] = []
    if "door" in args:
        code = str(args.get("compartment", ""))
        locker.compartment(code)
        wanted = DoorState(str(args["door"]))
        checks.append(lambda: locker.compartment(code).door is wanted)
    if "booted" in args:
        checks.append(lambda: locker.booted == bool(args["booted"]))
    if "online" in args:
        checks.append(lambda: locker.online == bool(args["online"]))
    if "display" in args:
        checks.append(lambda: (locker.display or {}).get("message") == args["display"])
    if not checks:
        raise ScenarioError("wait_for needs at least one of door, booted, online, display")
    return lambda: all(check() for check in checks)


async def _run_step(lockers: Mapping[str, EmulatedLocker], step: Step) -> None:
    args = step.args
    if step.kind == "sleep":
        await asyncio.sleep(float(args["seconds"]))
        return
    locker_id = str(args["locker"])
    if locker_id not in lockers:
        raise ScenarioError(f"no locker {locker_id!r} in this bank")
    locker = lockers[locker_id]
    if step.kind == "wait_for":
        timeout = float(args.get("timeout", DEFAULT_WAIT_SECONDS))
        try:
            async with asyncio.timeout(timeout):
                await locker.wait_until(_condition(locker, args))
        except TimeoutError:
            raise ScenarioError(f"timed out after {timeout:g} s") from None
    elif step.kind in _DOOR_STEPS:
        getattr(locker, step.kind)(str(args["compartment"]))
    elif step.kind == "keypad":
        compartment = args.get("compartment")
        locker.enter_code(
            str(args.get("code", "")), None if compartment is None else str(compartment)
        )
    elif step.kind == "fault":
        changes = {k: v for k, v in args.items() if k not in ("locker", "compartment")}
        if "compartment" in args:
            locker.update_compartment_faults(str(args["compartment"]), changes)
        else:
            locker.update_faults(changes)
    elif step.kind == "offline":
        locker.go_offline(
            float(args.get("seconds", 10)), power_loss=bool(args.get("power_loss", False))
        )


async def run_scenario(
    lockers: Mapping[str, EmulatedLocker],
    steps: Sequence[Step],
    *,
    out: Callable[[str], None] = print,
) -> bool:
    """Run the steps in order, printing each; False at the first failed step."""
    total = len(steps)
    for number, step in enumerate(steps, start=1):
        out(f"[{number}/{total}] {step.describe()}")
        try:
            await _run_step(lockers, step)
        except (ScenarioError, PhysicsError, UnknownCompartment, FaultError, ValueError) as err:
            out(f"[{number}/{total}] FAILED: {err}")
            return False
    out(f"scenario passed: {total} step(s)")
    return True
