"""Why a booking with delivery requirements found no compartment: never, or not right now.

Allocation (store/lockers.py) only says "nothing free fits". For a parcel with requirements
the carrier must learn whether waiting can help: when no compartment of the locker, in any
state, meets a requirement, the answer is 422 RequirementNotMet pointing at it; when some do
but all are busy (or their temperature is out of range), it stays 409 NoCompartmentAvailable.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.domain.compartment import Compartment
from gateway.domain.enums import CompartmentState
from gateway.domain.sizes import SizeRequirement
from gateway.errors import FieldIssue, NoCompartmentAvailable, RequirementNotMet
from gateway.store import UnitOfWork


def _admits(need: SizeRequirement, door: Compartment, *, alarm_counts: bool) -> bool:
    traits = door.traits if alarm_counts else replace(door.traits, temperature_alarm=False)
    return need.accepts(door.size_class, door.inside, door.max_weight_g) and (
        need.requirements.admits(traits)
    )


def refuse_unmeetable(locker_id: str, need: SizeRequirement, doors: list[Compartment]) -> None:
    """Raise RequirementNotMet unless some door of the locker, busy or not, meets every
    requirement together with the parcel's size and weight; None otherwise."""
    if not doors or any(_admits(need, door, alarm_counts=False) for door in doors):
        return
    wanted = need.requirements
    unmet = wanted.unmet(door.traits for door in doors)
    issues: tuple[FieldIssue, ...]
    if not unmet:
        # Each requirement is met by some door, but none meets them all with this size.
        issues = (
            FieldIssue(
                "/requirements",
                "no compartment meets all of these together with the parcel's size and weight",
            ),
        )
    else:
        issues = tuple(FieldIssue(u.pointer, u.reason) for u in unmet)
    raise RequirementNotMet(
        f"no compartment of locker {locker_id} meets the parcel's delivery requirements: "
        + "; ".join(issue.detail for issue in issues),
        issues=issues,
        details={"lockerId": locker_id},
    )


async def explain_no_compartment(
    tx: UnitOfWork, locker_id: str, need: SizeRequirement, error: NoCompartmentAvailable
) -> NoCompartmentAvailable:
    """After allocation failed: raise RequirementNotMet when the requirements can never be
    met here; otherwise the error to raise, naming a temperature alarm when that is why."""
    if need.requirements.empty:
        return error
    doors = await tx.lockers.compartments(locker_id)
    refuse_unmeetable(locker_id, need, doors)
    free = [
        door
        for door in doors
        if door.state is CompartmentState.AVAILABLE and _admits(need, door, alarm_counts=False)
    ]
    if free and all(door.temperature_alarm for door in free):
        wanted = need.requirements.temperature_class
        return NoCompartmentAvailable(
            f"every free {wanted} compartment of locker {locker_id} that fits the parcel is "
            "out of its temperature range; retry later",
            details={"lockerId": locker_id},
        )
    return error


async def check_announcement(tx: UnitOfWork, locker_id: str, need: SizeRequirement) -> None:
    """A parcel announced without a compartment: refuse now what no compartment can meet."""
    if need.requirements.accessible is None and need.requirements.temperature is None:
        return
    refuse_unmeetable(locker_id, need, await tx.lockers.compartments(locker_id))
