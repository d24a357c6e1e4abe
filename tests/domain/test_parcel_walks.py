"""Whole parcel journeys, with each transition's effect applied to a real compartment."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.domain.compartment import Compartment
from gateway.domain.enums import CompartmentState, Direction, ParcelAction, ParcelState
from gateway.domain.errors import IllegalCompartmentTransition, IllegalParcelTransition
from gateway.domain.parcel import (
    HOLDS_COMPARTMENT,
    TERMINAL_STATES,
    Parcel,
    ParcelEvent,
    Transition,
    allowed_actions,
    announce,
    transition,
)

from .builders import T0, TTL, WINDOW, compartment, new_parcel

S = ParcelState
A = ParcelAction
C = CompartmentState
HOUR = timedelta(hours=1)


@dataclass
class Journey:
    """One parcel and the compartments of its locker, driven the way the service drives them."""

    parcel: Parcel
    boxes: dict[str, Compartment]
    events: list[ParcelEvent] = field(default_factory=list)

    @classmethod
    def start(cls, parcel: Parcel, now: datetime, *boxes: Compartment) -> Journey:
        journey = cls(parcel, {b.code: b for b in boxes or (compartment("A1"),)})
        journey._record(announce(parcel, now))
        return journey

    @property
    def box(self) -> Compartment:
        """The parcel's compartment, or the only one while it has none."""
        code = self.parcel.compartment_code or next(iter(self.boxes))
        return self.boxes[code]

    def do(
        self,
        action: ParcelAction,
        now: datetime,
        *,
        into: str | None = None,
        fault: bool = False,
        pickup_until: datetime | None = None,
    ) -> Transition:
        """Apply `action`; `into` names the compartment a reservation books."""
        if into is not None:
            self.parcel = replace(self.parcel, compartment_code=into)
        before = self.parcel
        result = transition(
            before, action, now, fault=fault, pickup_until=pickup_until, redirect_to="P-NEW"
        )
        self._record(result, code=before.compartment_code)
        return result

    def _record(self, result: Transition, code: str | None = None) -> None:
        if result.effect is not None:
            code = code or result.parcel.compartment_code
            assert code is not None, "an effect needs the parcel's compartment"
            self.boxes[code] = self.boxes[code].apply(result.effect, self.parcel.uid)
        self.parcel = result.parcel
        self.events.append(result.event)
        # The history is one unbroken chain: seq 1, 2, 3... each leaving the previous state.
        assert [e.seq for e in self.events] == list(range(1, len(self.events) + 1))
        for prev, nxt in zip(self.events, self.events[1:], strict=False):
            assert nxt.from_state is prev.to_state
        assert self.parcel.last_seq == len(self.events)
        assert self.parcel.state is self.events[-1].to_state

    def states(self) -> list[ParcelState]:
        return [e.to_state for e in self.events]


def _last_mile(now: datetime = T0) -> Journey:
    return Journey.start(new_parcel(Direction.LAST_MILE), now, compartment("A1"))


def _deposited() -> Journey:
    journey = _last_mile()
    journey.do(A.RESERVE, T0 + HOUR, into="A1")
    journey.do(A.DEPOSIT, T0 + 2 * HOUR)
    return journey


def _box_is(box: Compartment, state: CompartmentState, parcel_uid: str | None) -> None:
    assert (box.state, box.parcel_uid) == (state, parcel_uid)


def test_last_mile_announce_reserve_deposit_pick_up() -> None:
    journey = _last_mile()
    _box_is(journey.box, C.AVAILABLE, None)

    journey.do(A.RESERVE, T0 + HOUR, into="A1")
    _box_is(journey.box, C.RESERVED, "p-1")
    assert journey.parcel.reserved_until == T0 + HOUR + TTL

    journey.do(A.DEPOSIT, T0 + 2 * HOUR)
    _box_is(journey.box, C.OCCUPIED, "p-1")
    assert journey.parcel.reserved_until is None
    assert journey.parcel.pickup_until == T0 + 2 * HOUR + WINDOW

    journey.do(A.PICK_UP, T0 + 3 * HOUR)
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)
    assert journey.parcel.compartment_code is None
    assert journey.states() == [S.ANNOUNCED, S.RESERVED, S.READY_FOR_PICKUP, S.PICKED_UP]
    assert [e.type for e in journey.events] == [
        "parcel.announced",
        "parcel.reserved",
        "parcel.ready_for_pickup",
        "parcel.picked_up",
    ]
    assert journey.parcel.state in TERMINAL_STATES
    with pytest.raises(IllegalParcelTransition):
        journey.do(A.PICK_UP, T0 + 4 * HOUR)


def test_an_uncollected_parcel_expires_is_collected_and_returned() -> None:
    journey = _deposited()
    deadline = journey.parcel.pickup_until
    assert deadline is not None
    with pytest.raises(IllegalParcelTransition):
        journey.do(A.EXPIRE, deadline - HOUR)

    journey.do(A.EXPIRE, deadline)
    _box_is(journey.box, C.OCCUPIED, "p-1")
    journey.do(A.COLLECT, deadline + HOUR)
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)
    journey.do(A.RETURN, deadline + 30 * HOUR)
    assert journey.states()[-4:] == [S.READY_FOR_PICKUP, S.EXPIRED, S.COLLECTED, S.RETURNED]
    assert journey.parcel.state in TERMINAL_STATES


def test_an_expired_parcel_can_be_extended_and_then_picked_up() -> None:
    journey = _deposited()
    deadline = journey.parcel.pickup_until
    assert deadline is not None
    journey.do(A.EXPIRE, deadline)
    journey.do(A.EXTEND, deadline + HOUR, pickup_until=deadline + 24 * HOUR)
    _box_is(journey.box, C.OCCUPIED, "p-1")
    journey.do(A.PICK_UP, deadline + 2 * HOUR)
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)
    assert journey.states()[-3:] == [S.EXPIRED, S.READY_FOR_PICKUP, S.PICKED_UP]


def test_first_mile_drop_off_then_courier_collects() -> None:
    journey = Journey.start(new_parcel(Direction.FIRST_MILE), T0, compartment("A1"))
    _box_is(journey.box, C.RESERVED, "p-1")
    assert journey.parcel.reserved_until == T0 + TTL

    dropped = journey.do(A.DROP_OFF, T0 + HOUR).parcel
    _box_is(journey.box, C.OCCUPIED, "p-1")
    assert (dropped.reserved_until, dropped.pickup_until) == (None, None)

    journey.do(A.COLLECT, T0 + 5 * HOUR)
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)
    assert journey.states() == [S.DROPOFF_ANNOUNCED, S.DROPPED_OFF, S.COLLECTED]


def test_a_redirected_parcel_stays_in_its_box_until_collected() -> None:
    journey = _deposited()
    journey.do(A.REDIRECT, T0 + 3 * HOUR)
    _box_is(journey.box, C.OCCUPIED, "p-1")
    assert journey.parcel.compartment_code == "A1"
    journey.do(A.COLLECT, T0 + 4 * HOUR)
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)
    assert journey.states()[-3:] == [S.READY_FOR_PICKUP, S.REDIRECTED, S.COLLECTED]


def test_a_failed_deposit_frees_the_box_and_the_parcel_is_booked_again() -> None:
    journey = _last_mile()
    journey.do(A.RESERVE, T0 + HOUR, into="A1")
    journey.do(A.FAIL_DEPOSIT, T0 + 2 * HOUR)
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)
    assert journey.parcel.compartment_code is None

    journey.do(A.RESERVE, T0 + 3 * HOUR, into="A1")
    _box_is(journey.box, C.RESERVED, "p-1")
    assert journey.parcel.reserved_until == T0 + 3 * HOUR + TTL
    journey.do(A.DEPOSIT, T0 + 4 * HOUR)
    journey.do(A.PICK_UP, T0 + 5 * HOUR)
    assert journey.states() == [
        S.ANNOUNCED,
        S.RESERVED,
        S.DEPOSIT_FAILED,
        S.RESERVED,
        S.READY_FOR_PICKUP,
        S.PICKED_UP,
    ]


def test_a_jammed_deposit_disables_the_box_and_the_parcel_moves_to_another() -> None:
    journey = Journey.start(
        new_parcel(Direction.LAST_MILE), T0, compartment("A1"), compartment("A2")
    )
    journey.do(A.RESERVE, T0 + HOUR, into="A1")
    journey.do(A.FAIL_DEPOSIT, T0 + 2 * HOUR, fault=True)
    # DISABLE_EMPTY: out of service, and the parcel is no longer attached to it.
    _box_is(journey.boxes["A1"], C.OUT_OF_SERVICE, None)
    with pytest.raises(IllegalCompartmentTransition):
        journey.do(A.RESERVE, T0 + 3 * HOUR, into="A1")

    journey.parcel = replace(journey.parcel, compartment_code=None)
    journey.do(A.RESERVE, T0 + 3 * HOUR, into="A2")
    _box_is(journey.boxes["A2"], C.RESERVED, "p-1")
    journey.do(A.DEPOSIT, T0 + 4 * HOUR)
    _box_is(journey.boxes["A2"], C.OCCUPIED, "p-1")
    # The operator repairs A1: it comes back empty.
    _box_is(journey.boxes["A1"].enable(), C.AVAILABLE, None)


def test_a_first_mile_parcel_booked_again_after_a_failed_drop_off_stays_first_mile() -> None:
    journey = Journey.start(new_parcel(Direction.FIRST_MILE), T0, compartment("A1"))
    journey.do(A.FAIL_DEPOSIT, T0 + HOUR)
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)

    journey.do(A.RESERVE, T0 + 2 * HOUR, into="A1")
    assert journey.parcel.state is S.DROPOFF_ANNOUNCED
    assert journey.events[-1].type == "parcel.dropoff_announced"
    assert journey.parcel.reserved_until == T0 + 2 * HOUR + TTL
    _box_is(journey.box, C.RESERVED, "p-1")
    journey.do(A.DROP_OFF, T0 + 3 * HOUR)
    journey.do(A.COLLECT, T0 + 4 * HOUR)
    assert journey.states() == [
        S.DROPOFF_ANNOUNCED,
        S.DEPOSIT_FAILED,
        S.DROPOFF_ANNOUNCED,
        S.DROPPED_OFF,
        S.COLLECTED,
    ]
    with pytest.raises(IllegalParcelTransition):
        journey.do(A.PICK_UP, T0 + 5 * HOUR)


def test_cancelling_an_announced_parcel_touches_no_box() -> None:
    journey = _last_mile()
    result = journey.do(A.CANCEL, T0 + HOUR)
    assert result.effect is None
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)
    assert journey.states() == [S.ANNOUNCED, S.CANCELLED]


def test_cancelling_a_reserved_parcel_frees_its_box() -> None:
    journey = _last_mile()
    journey.do(A.RESERVE, T0 + HOUR, into="A1")
    journey.do(A.CANCEL, T0 + 2 * HOUR)
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)
    assert journey.parcel.compartment_code is None
    assert journey.states() == [S.ANNOUNCED, S.RESERVED, S.CANCELLED]


def test_cancelling_a_drop_off_frees_its_box() -> None:
    journey = Journey.start(new_parcel(Direction.FIRST_MILE), T0, compartment("A1"))
    journey.do(A.CANCEL, T0 + HOUR)
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)
    assert journey.states() == [S.DROPOFF_ANNOUNCED, S.CANCELLED]


def test_cancelling_after_a_failed_deposit_touches_no_box() -> None:
    journey = _last_mile()
    journey.do(A.RESERVE, T0 + HOUR, into="A1")
    journey.do(A.FAIL_DEPOSIT, T0 + 2 * HOUR, fault=True)
    result = journey.do(A.CANCEL, T0 + 3 * HOUR)
    assert result.effect is None
    _box_is(journey.boxes["A1"], C.OUT_OF_SERVICE, None)
    assert journey.parcel.state is S.CANCELLED


@pytest.mark.parametrize("direction", list(Direction))
def test_an_unused_reservation_expires_and_frees_its_box(direction: Direction) -> None:
    journey = Journey.start(new_parcel(direction), T0, compartment("A1"))
    if direction is Direction.LAST_MILE:
        journey.do(A.RESERVE, T0, into="A1")
    journey.do(A.EXPIRE_RESERVATION, T0 + TTL)
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)
    assert journey.parcel.state is S.RESERVATION_EXPIRED


def test_a_jammed_pickup_keeps_the_parcel_in_the_disabled_box_until_collected() -> None:
    journey = _deposited()
    journey.do(A.FAIL_PICKUP, T0 + 3 * HOUR, fault=True)
    _box_is(journey.box, C.OUT_OF_SERVICE, "p-1")
    assert journey.parcel.compartment_code == "A1"

    journey.do(A.COLLECT, T0 + 4 * HOUR)
    # Released, but an out-of-service box stays out of service until an operator acts.
    _box_is(journey.boxes["A1"], C.OUT_OF_SERVICE, None)
    _box_is(journey.boxes["A1"].enable(), C.AVAILABLE, None)


def test_a_jammed_box_repaired_with_the_parcel_inside_can_be_picked_up() -> None:
    journey = _deposited()
    journey.do(A.FAIL_PICKUP, T0 + 3 * HOUR, fault=True)
    journey.boxes["A1"] = journey.boxes["A1"].enable()
    _box_is(journey.box, C.OCCUPIED, "p-1")
    journey.do(A.PICK_UP, T0 + 4 * HOUR)
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)


def test_a_pickup_refused_by_the_operator_leaves_the_box_occupied() -> None:
    journey = _deposited()
    journey.do(A.FAIL_PICKUP, T0 + 3 * HOUR)
    _box_is(journey.box, C.OCCUPIED, "p-1")
    journey.do(A.PICK_UP, T0 + 4 * HOUR)
    _box_is(journey.boxes["A1"], C.AVAILABLE, None)


# --- any journey --------------------------------------------------------------------------------

# Where the parcel's box must be, for each parcel state that holds one.
BOX_STATES = {
    S.RESERVED: {C.RESERVED},
    S.DROPOFF_ANNOUNCED: {C.RESERVED},
    S.READY_FOR_PICKUP: {C.OCCUPIED},
    S.EXPIRED: {C.OCCUPIED},
    S.REDIRECTED: {C.OCCUPIED},
    S.DROPPED_OFF: {C.OCCUPIED},
    S.PICKUP_FAILED: {C.OCCUPIED, C.OUT_OF_SERVICE},
}


def _next_moment(parcel: Parcel, action: ParcelAction, now: datetime) -> datetime:
    """The earliest moment from `now` at which the action's deadline guard passes."""
    if action is A.EXPIRE_RESERVATION and parcel.reserved_until is not None:
        return max(now, parcel.reserved_until)
    if action is A.EXPIRE and parcel.pickup_until is not None:
        return max(now, parcel.pickup_until)
    return now


@settings(max_examples=300, deadline=None)
@given(direction=st.sampled_from(list(Direction)), data=st.data())
def test_any_journey_keeps_parcel_and_box_in_step(
    direction: Direction, data: st.DataObject
) -> None:
    now = T0
    journey = Journey.start(new_parcel(direction), now, compartment("A1"))
    for _ in range(15):
        parcel = journey.parcel
        actions = sorted(allowed_actions(parcel.state))
        if not actions:
            break
        action = data.draw(st.sampled_from(actions), label="action")
        fault = data.draw(st.booleans(), label="fault")
        now = _next_moment(parcel, action, now + data.draw(st.integers(0, 100)) * HOUR)
        if journey.box.state is C.OUT_OF_SERVICE and data.draw(st.booleans(), label="repair"):
            journey.boxes["A1"] = journey.boxes["A1"].enable()
        if action is A.RESERVE and journey.boxes["A1"].state is C.OUT_OF_SERVICE:
            journey.boxes["A1"] = journey.boxes["A1"].enable()
        until = max(now, parcel.pickup_until or now) + HOUR
        journey.do(
            action,
            now,
            into="A1" if action is A.RESERVE else None,
            fault=fault,
            pickup_until=until,
        )

        parcel, box = journey.parcel, journey.boxes["A1"]
        assert parcel.direction is direction
        if parcel.state in HOLDS_COMPARTMENT:
            assert parcel.compartment_code == "A1"
            assert box.parcel_uid == parcel.uid
            assert box.state in BOX_STATES[parcel.state]
        else:
            assert parcel.compartment_code is None
            assert box.parcel_uid is None
            assert box.state in (C.AVAILABLE, C.OUT_OF_SERVICE)
        if direction is Direction.FIRST_MILE:
            # A sender's parcel never enters the recipient's side of the lifecycle.
            assert parcel.state not in (S.RESERVED, S.READY_FOR_PICKUP, S.PICKED_UP)
        else:
            assert parcel.state not in (S.DROPOFF_ANNOUNCED, S.DROPPED_OFF)
