"""The compartment machine: every change from every state, and effects bound to their parcel."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import pytest

from gateway.domain.compartment import Compartment, CompartmentEffect
from gateway.domain.enums import CompartmentState
from gateway.domain.errors import IllegalCompartmentTransition
from gateway.errors import ErrorCode, IllegalTransition

from .builders import compartment

C = CompartmentState
E = CompartmentEffect

OPS: dict[str, Callable[[Compartment], Compartment]] = {
    "reserve": lambda box: box.reserve("p-2"),
    "occupy": Compartment.occupy,
    "release": Compartment.release,
    "disable": Compartment.disable,
    "enable": Compartment.enable,
}
# Written out by hand: (state, operation) -> (new state, parcel afterwards) for a box whose
# parcel is "p-1" unless it is available. Pairs missing here must be refused.
LEGAL: dict[tuple[CompartmentState, str], tuple[CompartmentState, str | None]] = {
    (C.AVAILABLE, "reserve"): (C.RESERVED, "p-2"),
    (C.RESERVED, "occupy"): (C.OCCUPIED, "p-1"),
    (C.RESERVED, "release"): (C.AVAILABLE, None),
    (C.OCCUPIED, "release"): (C.AVAILABLE, None),
    (C.OUT_OF_SERVICE, "release"): (C.OUT_OF_SERVICE, None),
    (C.AVAILABLE, "disable"): (C.OUT_OF_SERVICE, None),
    (C.RESERVED, "disable"): (C.OUT_OF_SERVICE, "p-1"),
    (C.OCCUPIED, "disable"): (C.OUT_OF_SERVICE, "p-1"),
    (C.OUT_OF_SERVICE, "disable"): (C.OUT_OF_SERVICE, "p-1"),
    (C.OUT_OF_SERVICE, "enable"): (C.OCCUPIED, "p-1"),
}
PAIRS = list(itertools.product(C, OPS))


def _box(state: CompartmentState) -> Compartment:
    return compartment("B7", state=state, parcel_uid=None if state is C.AVAILABLE else "p-1")


@pytest.mark.parametrize(("state", "op"), PAIRS, ids=[f"{s.value}-{o}" for s, o in PAIRS])
def test_every_change_from_every_state(state: CompartmentState, op: str) -> None:
    box = _box(state)
    before = dataclasses.replace(box)
    if (state, op) in LEGAL:
        after = OPS[op](box)
        assert (after.state, after.parcel_uid) == LEGAL[(state, op)]
        assert dataclasses.replace(after, state=box.state, parcel_uid=box.parcel_uid) == box
    else:
        with pytest.raises(IllegalCompartmentTransition) as caught:
            OPS[op](box)
        err = caught.value
        assert isinstance(err, IllegalTransition)
        assert err.code is ErrorCode.ILLEGAL_TRANSITION
        assert err.description == f"cannot {op} compartment B7 while it is {state.value}"
    assert box == before


def test_an_empty_out_of_service_box_comes_back_available() -> None:
    box = compartment(state=C.OUT_OF_SERVICE, parcel_uid=None)
    assert box.enable().state is C.AVAILABLE


def test_a_box_cannot_be_changed_in_place() -> None:
    box = compartment()
    for f in dataclasses.fields(Compartment):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(box, f.name, None)


# --- apply: a parcel transition's effect -------------------------------------------------------

APPLY: dict[tuple[CompartmentState, CompartmentEffect], tuple[CompartmentState, str | None]] = {
    (C.AVAILABLE, E.RESERVE): (C.RESERVED, "p-1"),
    (C.RESERVED, E.OCCUPY): (C.OCCUPIED, "p-1"),
    (C.RESERVED, E.RELEASE): (C.AVAILABLE, None),
    (C.OCCUPIED, E.RELEASE): (C.AVAILABLE, None),
    (C.OUT_OF_SERVICE, E.RELEASE): (C.OUT_OF_SERVICE, None),
    (C.OCCUPIED, E.DISABLE): (C.OUT_OF_SERVICE, "p-1"),
    (C.RESERVED, E.DISABLE_EMPTY): (C.OUT_OF_SERVICE, None),
}


@pytest.mark.parametrize(("state", "effect"), list(APPLY), ids=[f"{s}-{e}" for s, e in APPLY])
def test_apply_performs_the_effect_for_the_holding_parcel(
    state: CompartmentState, effect: CompartmentEffect
) -> None:
    box = compartment(state=state, parcel_uid=None if state is C.AVAILABLE else "p-1")
    after = box.apply(effect, "p-1")
    assert (after.state, after.parcel_uid) == APPLY[(state, effect)]


@pytest.mark.parametrize("effect", [e for e in E if e is not E.RESERVE])
@pytest.mark.parametrize("holder", ["p-1", None])
@pytest.mark.parametrize("state", [C.RESERVED, C.OCCUPIED, C.OUT_OF_SERVICE])
def test_apply_refuses_a_parcel_that_does_not_hold_the_box(
    state: CompartmentState, holder: str | None, effect: CompartmentEffect
) -> None:
    box = compartment("B7", state=state, parcel_uid=holder)
    with pytest.raises(IllegalCompartmentTransition) as caught:
        box.apply(effect, "p-9")
    assert caught.value.code is ErrorCode.ILLEGAL_TRANSITION
    assert caught.value.description == "compartment B7 does not hold parcel p-9"


@pytest.mark.parametrize("state", [C.RESERVED, C.OCCUPIED, C.OUT_OF_SERVICE])
def test_a_box_held_by_one_parcel_cannot_be_reserved_for_another(state: CompartmentState) -> None:
    box = compartment(state=state, parcel_uid="p-1")
    with pytest.raises(IllegalCompartmentTransition):
        box.apply(E.RESERVE, "p-2")


def test_apply_checks_the_box_state_after_the_parcel() -> None:
    # The right parcel, but an occupied box cannot be occupied again.
    with pytest.raises(IllegalCompartmentTransition, match="cannot occupy"):
        compartment(state=C.OCCUPIED, parcel_uid="p-1").apply(E.OCCUPY, "p-1")
