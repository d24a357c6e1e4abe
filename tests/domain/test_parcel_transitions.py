"""Each legal parcel transition does what the lifecycle says; every other pair is refused."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from gateway.domain.compartment import CompartmentEffect
from gateway.domain.enums import Direction, ParcelAction, ParcelState
from gateway.domain.errors import IllegalParcelTransition
from gateway.domain.parcel import (
    FIRST_MILE_TRANSITIONS,
    HOLDS_COMPARTMENT,
    TERMINAL_STATES,
    TRANSITIONS,
    Parcel,
    allowed_actions,
    transition,
)
from gateway.errors import ErrorCode, IllegalTransition, OpenLockerError

from .builders import T0, TTL, WINDOW, WITH_COMPARTMENT, parcel_in

NEW_ID = "P-NEW"  # the parcel a redirect books at the other locker
S = ParcelState
A = ParcelAction
E = CompartmentEffect

# The lifecycle of DESIGN.md written out by hand, independently of gateway.domain.parcel:
# (state, action) -> (next state, compartment effect as declared in the table).
EXPECTED: dict[tuple[ParcelState, ParcelAction], tuple[ParcelState, CompartmentEffect | None]] = {
    # last mile, before the door session
    (S.ANNOUNCED, A.RESERVE): (S.RESERVED, E.RESERVE),
    (S.ANNOUNCED, A.CANCEL): (S.CANCELLED, None),
    (S.RESERVED, A.CANCEL): (S.CANCELLED, E.RELEASE),
    (S.RESERVED, A.EXPIRE_RESERVATION): (S.RESERVATION_EXPIRED, E.RELEASE),
    (S.RESERVED, A.DEPOSIT): (S.READY_FOR_PICKUP, E.OCCUPY),
    (S.RESERVED, A.FAIL_DEPOSIT): (S.DEPOSIT_FAILED, E.RELEASE),
    (S.DEPOSIT_FAILED, A.RESERVE): (S.RESERVED, E.RESERVE),
    (S.DEPOSIT_FAILED, A.CANCEL): (S.CANCELLED, None),
    # last mile, the parcel is in the compartment
    (S.READY_FOR_PICKUP, A.PICK_UP): (S.PICKED_UP, E.RELEASE),
    (S.READY_FOR_PICKUP, A.FAIL_PICKUP): (S.PICKUP_FAILED, E.DISABLE),
    (S.READY_FOR_PICKUP, A.EXTEND): (S.READY_FOR_PICKUP, None),
    (S.READY_FOR_PICKUP, A.EXPIRE): (S.EXPIRED, None),
    (S.READY_FOR_PICKUP, A.REDIRECT): (S.REDIRECTED, None),
    (S.PICKUP_FAILED, A.PICK_UP): (S.PICKED_UP, E.RELEASE),
    (S.PICKUP_FAILED, A.COLLECT): (S.COLLECTED, E.RELEASE),
    (S.EXPIRED, A.EXTEND): (S.READY_FOR_PICKUP, None),
    (S.EXPIRED, A.COLLECT): (S.COLLECTED, E.RELEASE),
    (S.REDIRECTED, A.COLLECT): (S.COLLECTED, E.RELEASE),
    (S.COLLECTED, A.RETURN): (S.RETURNED, None),
    # first mile
    (S.DROPOFF_ANNOUNCED, A.DROP_OFF): (S.DROPPED_OFF, E.OCCUPY),
    (S.DROPOFF_ANNOUNCED, A.CANCEL): (S.CANCELLED, E.RELEASE),
    (S.DROPOFF_ANNOUNCED, A.EXPIRE_RESERVATION): (S.RESERVATION_EXPIRED, E.RELEASE),
    (S.DROPOFF_ANNOUNCED, A.FAIL_DEPOSIT): (S.DEPOSIT_FAILED, E.RELEASE),
    (S.DROPPED_OFF, A.COLLECT): (S.COLLECTED, E.RELEASE),
}
EXPECTED_TERMINAL = {S.CANCELLED, S.RESERVATION_EXPIRED, S.PICKED_UP, S.RETURNED}
ILLEGAL = [pair for pair in itertools.product(S, A) if pair not in EXPECTED]
LATER = timedelta(minutes=30)


def _ids(pairs: Iterable[tuple[ParcelState, ParcelAction]]) -> list[str]:
    return [f"{state.value}-{action.value}" for state, action in pairs]


def _now_for(parcel: Parcel, action: ParcelAction) -> datetime:
    """A moment at which the action's guard passes: expiries exactly at their deadline."""
    if action is A.EXPIRE_RESERVATION:
        assert parcel.reserved_until is not None
        return parcel.reserved_until
    if action is A.EXPIRE:
        assert parcel.pickup_until is not None
        return parcel.pickup_until
    return T0 + LATER


def _expected_changes(
    action: ParcelAction, effect: CompartmentEffect | None, now: datetime, until: datetime
) -> dict[str, Any]:
    """The fields, besides state, updated_at and last_seq, that the action must change."""
    changes: dict[str, Any] = {}
    if action is A.RESERVE:
        changes["reserved_until"] = now + TTL
    elif action is A.DEPOSIT:
        changes.update(reserved_until=None, pickup_until=now + WINDOW)
    elif action is A.DROP_OFF:
        changes.update(reserved_until=None, pickup_until=None)
    elif action is A.EXTEND:
        changes["pickup_until"] = until
    elif action is A.REDIRECT:
        changes["redirected_to"] = NEW_ID
    if effect in (E.RELEASE, E.DISABLE_EMPTY):
        changes["compartment_code"] = None
    return changes


def _check_legal(
    state: ParcelState,
    action: ParcelAction,
    target: ParcelState,
    declared: CompartmentEffect | None,
) -> None:
    parcel = parcel_in(state)
    now = _now_for(parcel, action)
    until = T0 + WINDOW + timedelta(days=2)
    # Without a door fault, a failed pickup is an operator's verdict: the box is left as is.
    effect = None if action is A.FAIL_PICKUP else declared

    result = transition(parcel, action, now, pickup_until=until, redirect_to=NEW_ID)

    assert result.effect is effect
    expected = replace(
        parcel,
        state=target,
        updated_at=now,
        last_seq=parcel.last_seq + 1,
        **_expected_changes(action, effect, now, until),
    )
    assert result.parcel == expected
    event = result.event
    assert event.seq == parcel.last_seq + 1 == 4
    assert event.type == f"parcel.{target.value}"
    assert (event.from_state, event.to_state) == (state, target)
    assert event.at == now
    assert event.details == {}


@pytest.mark.parametrize(("pair", "outcome"), list(TRANSITIONS.items()), ids=_ids(TRANSITIONS))
def test_every_transition_of_the_table_behaves_as_declared(
    pair: tuple[ParcelState, ParcelAction],
    outcome: tuple[ParcelState, CompartmentEffect | None],
) -> None:
    _check_legal(*pair, *outcome)


@pytest.mark.parametrize(("pair", "outcome"), list(EXPECTED.items()), ids=_ids(EXPECTED))
def test_every_transition_of_the_lifecycle_behaves_as_written(
    pair: tuple[ParcelState, ParcelAction],
    outcome: tuple[ParcelState, CompartmentEffect | None],
) -> None:
    _check_legal(*pair, *outcome)


def test_the_table_is_exactly_the_hand_written_lifecycle() -> None:
    assert set(TRANSITIONS) - set(EXPECTED) == set(), "transitions not in the lifecycle"
    assert set(EXPECTED) - set(TRANSITIONS) == set(), "lifecycle transitions missing"
    assert TRANSITIONS == EXPECTED
    assert len(TRANSITIONS) == 24


def test_first_mile_parcels_differ_only_when_booked_again_after_a_failed_drop_off() -> None:
    assert FIRST_MILE_TRANSITIONS == {
        (S.DEPOSIT_FAILED, A.RESERVE): (S.DROPOFF_ANNOUNCED, E.RESERVE),
    }
    # An override can only redirect a legal pair; it never makes an illegal one legal.
    assert set(FIRST_MILE_TRANSITIONS) <= set(EXPECTED)


def test_a_first_mile_parcel_booked_again_is_announced_for_drop_off_again() -> None:
    parcel = parcel_in(S.DEPOSIT_FAILED, direction=Direction.FIRST_MILE, compartment_code="B2")
    now = T0 + LATER
    result = transition(parcel, A.RESERVE, now)
    assert result.effect is E.RESERVE
    assert result.parcel == replace(
        parcel,
        state=S.DROPOFF_ANNOUNCED,
        updated_at=now,
        last_seq=4,
        reserved_until=now + TTL,
    )
    assert (result.event.type, result.event.from_state, result.event.to_state) == (
        "parcel.dropoff_announced",
        S.DEPOSIT_FAILED,
        S.DROPOFF_ANNOUNCED,
    )


@pytest.mark.parametrize(("pair", "outcome"), list(EXPECTED.items()), ids=_ids(EXPECTED))
def test_a_first_mile_parcel_follows_the_same_table_otherwise(
    pair: tuple[ParcelState, ParcelAction],
    outcome: tuple[ParcelState, CompartmentEffect | None],
) -> None:
    state, action = pair
    parcel = parcel_in(state, direction=Direction.FIRST_MILE)
    result = transition(
        parcel, action, _now_for(parcel, action), pickup_until=T0 + 9 * WINDOW, redirect_to=NEW_ID
    )
    target = S.DROPOFF_ANNOUNCED if pair == (S.DEPOSIT_FAILED, A.RESERVE) else outcome[0]
    assert result.parcel.state is target
    assert result.parcel.direction is Direction.FIRST_MILE


def test_terminal_states_are_exactly_those_without_a_way_out() -> None:
    assert set(TERMINAL_STATES) == EXPECTED_TERMINAL
    for state in S:
        assert (allowed_actions(state) == frozenset()) == (state in EXPECTED_TERMINAL), state


def test_holds_compartment_lists_the_states_with_a_booked_or_full_box() -> None:
    assert set(HOLDS_COMPARTMENT) == WITH_COMPARTMENT


@pytest.mark.parametrize(("pair", "outcome"), list(EXPECTED.items()), ids=_ids(EXPECTED))
def test_effects_agree_with_who_holds_a_compartment(
    pair: tuple[ParcelState, ParcelAction],
    outcome: tuple[ParcelState, CompartmentEffect | None],
) -> None:
    (state, _), (target, effect) = pair, outcome
    held_before, held_after = state in WITH_COMPARTMENT, target in WITH_COMPARTMENT
    if not held_before and held_after:
        assert effect is E.RESERVE
    elif held_before and not held_after:
        assert effect in (E.RELEASE, E.DISABLE_EMPTY)
    elif held_before and held_after:
        assert effect in (None, E.OCCUPY, E.DISABLE)
    else:
        assert effect is None


def test_every_state_is_reachable_from_an_announcement() -> None:
    seen = {S.ANNOUNCED, S.DROPOFF_ANNOUNCED}
    frontier = list(seen)
    while frontier:
        state = frontier.pop()
        for action in allowed_actions(state):
            target = TRANSITIONS[(state, action)][0]
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(S)


def test_a_redirect_names_the_new_parcel() -> None:
    with pytest.raises(IllegalParcelTransition, match="names the new parcel"):
        transition(parcel_in(S.READY_FOR_PICKUP), A.REDIRECT, T0)


def test_every_action_has_a_transition() -> None:
    # An action no state accepts would be dead vocabulary; adding one must come with its rule.
    used = {action for (_, action) in TRANSITIONS}
    assert set(A) == used


@pytest.mark.parametrize("pair", ILLEGAL, ids=_ids(ILLEGAL))
def test_every_other_pair_is_refused_and_leaves_the_parcel_alone(
    pair: tuple[ParcelState, ParcelAction],
) -> None:
    state, action = pair
    parcel = parcel_in(state)
    before = replace(parcel)

    with pytest.raises(IllegalParcelTransition) as caught:
        transition(
            parcel,
            action,
            T0 + timedelta(days=30),
            pickup_until=T0 + timedelta(days=60),
            redirect_to=NEW_ID,
        )

    err = caught.value
    assert err.code is ErrorCode.ILLEGAL_TRANSITION
    assert isinstance(err, IllegalTransition)
    assert isinstance(err, OpenLockerError)
    allowed = ", ".join(sorted(a.value for (s, a) in EXPECTED if s is state)) or "none"
    assert err.description == (
        f"cannot {action.value} a parcel that is {state.value} (allowed: {allowed})"
    )
    assert str(err) == f"IllegalTransition: {err.description}"
    assert err.details == {"state": state.value, "action": action.value}
    assert parcel == before


def test_the_illegal_pairs_are_the_rest_of_the_product() -> None:
    assert len(ILLEGAL) == len(S) * len(A) - len(EXPECTED) == 14 * 13 - 24


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Parcel)])
def test_a_parcel_cannot_be_changed_in_place(name: str) -> None:
    parcel = parcel_in(S.RESERVED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(parcel, name, None)


def test_a_transition_returns_new_objects_that_are_frozen_too() -> None:
    result = transition(parcel_in(S.ANNOUNCED), A.RESERVE, T0)
    for obj, name in ((result, "effect"), (result.event, "seq"), (result.parcel, "state")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, name, None)
