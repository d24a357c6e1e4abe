"""Guards of the parcel machine: deadlines, extensions, door faults and the first event."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from gateway.domain.compartment import CompartmentEffect
from gateway.domain.enums import Direction, ParcelAction, ParcelState
from gateway.domain.errors import IllegalParcelTransition
from gateway.domain.parcel import Parcel, announce, transition
from gateway.errors import ErrorCode

from .builders import T0, TTL, WINDOW, new_parcel, parcel_in

S = ParcelState
A = ParcelAction
E = CompartmentEffect
TICK = timedelta(microseconds=1)


def _refused(
    parcel: Parcel, action: ParcelAction, now: datetime, pickup_until: datetime | None = None
) -> str:
    """Assert that the action is refused without touching the parcel; return the reason."""
    before = replace(parcel)
    with pytest.raises(IllegalParcelTransition) as caught:
        transition(parcel, action, now, pickup_until=pickup_until)
    assert caught.value.code is ErrorCode.ILLEGAL_TRANSITION
    assert parcel == before
    return caught.value.description


# --- reservation expiry -----------------------------------------------------------------------


@pytest.mark.parametrize("state", [S.RESERVED, S.DROPOFF_ANNOUNCED])
def test_a_reservation_cannot_expire_before_its_deadline(state: ParcelState) -> None:
    parcel = parcel_in(state)
    assert parcel.reserved_until == T0 + TTL
    reason = _refused(parcel, A.EXPIRE_RESERVATION, now=T0 + TTL - TICK)
    assert reason == "the reservation has not expired yet"


@pytest.mark.parametrize("state", [S.RESERVED, S.DROPOFF_ANNOUNCED])
@pytest.mark.parametrize("late", [timedelta(0), TICK, timedelta(days=3)])
def test_a_reservation_expires_at_or_after_its_deadline(
    state: ParcelState, late: timedelta
) -> None:
    result = transition(parcel_in(state), A.EXPIRE_RESERVATION, T0 + TTL + late)
    assert result.parcel.state is S.RESERVATION_EXPIRED
    assert result.effect is E.RELEASE


def test_a_reservation_without_deadline_never_expires() -> None:
    parcel = parcel_in(S.RESERVED, reserved_until=None)
    _refused(parcel, A.EXPIRE_RESERVATION, now=T0 + timedelta(days=365))


# --- pickup window ----------------------------------------------------------------------------


def test_a_parcel_cannot_expire_before_its_pickup_deadline() -> None:
    parcel = parcel_in(S.READY_FOR_PICKUP)
    assert parcel.pickup_until == T0 + WINDOW
    reason = _refused(parcel, A.EXPIRE, now=T0 + WINDOW - TICK)
    assert reason == "the pickup window has not ended yet"


@pytest.mark.parametrize("late", [timedelta(0), TICK, timedelta(days=3)])
def test_a_parcel_expires_at_or_after_its_pickup_deadline(late: timedelta) -> None:
    result = transition(parcel_in(S.READY_FOR_PICKUP), A.EXPIRE, T0 + WINDOW + late)
    assert result.parcel.state is S.EXPIRED
    assert result.effect is None
    assert result.parcel.compartment_code == "A1"


def test_a_parcel_without_pickup_deadline_never_expires() -> None:
    parcel = parcel_in(S.READY_FOR_PICKUP, pickup_until=None)
    _refused(parcel, A.EXPIRE, now=T0 + timedelta(days=365))


# --- extensions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "until",
    [
        pytest.param(None, id="missing"),
        pytest.param(T0 + timedelta(hours=1) - TICK, id="in-the-past"),
        pytest.param(T0 + timedelta(hours=1), id="now"),
    ],
)
def test_an_extension_must_end_in_the_future(until: datetime | None) -> None:
    parcel = parcel_in(S.READY_FOR_PICKUP)
    reason = _refused(parcel, A.EXTEND, now=T0 + timedelta(hours=1), pickup_until=until)
    assert reason == "the new pickup deadline must lie in the future"


@pytest.mark.parametrize("earlier", [timedelta(0), TICK, timedelta(hours=20)])
def test_an_extension_must_move_the_deadline_later(earlier: timedelta) -> None:
    parcel = parcel_in(S.READY_FOR_PICKUP)
    reason = _refused(
        parcel, A.EXTEND, now=T0 + timedelta(hours=1), pickup_until=T0 + WINDOW - earlier
    )
    assert reason == "an extension must move the pickup deadline later"


def test_an_extension_moves_the_pickup_deadline() -> None:
    parcel = parcel_in(S.READY_FOR_PICKUP)
    until = T0 + WINDOW + TICK
    result = transition(parcel, A.EXTEND, T0 + timedelta(hours=1), pickup_until=until)
    assert result.parcel.pickup_until == until
    assert result.parcel.state is S.READY_FOR_PICKUP
    assert result.event.type == "parcel.ready_for_pickup"
    assert (result.event.from_state, result.event.to_state) == (S.READY_FOR_PICKUP,) * 2


def test_an_expired_parcel_is_extended_from_now_not_from_the_old_deadline() -> None:
    parcel = parcel_in(S.EXPIRED)
    now = T0 + WINDOW + timedelta(hours=10)
    # Later than the old deadline, but already past: refused.
    reason = _refused(parcel, A.EXTEND, now=now, pickup_until=now - TICK)
    assert reason == "the new pickup deadline must lie in the future"
    result = transition(parcel, A.EXTEND, now, pickup_until=now + timedelta(days=1))
    assert result.parcel.state is S.READY_FOR_PICKUP
    assert result.parcel.pickup_until == now + timedelta(days=1)


def test_pickup_until_is_ignored_by_other_actions() -> None:
    result = transition(parcel_in(S.READY_FOR_PICKUP), A.PICK_UP, T0, pickup_until=T0)
    assert result.parcel.pickup_until == T0 + WINDOW


# --- door faults ------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [S.RESERVED, S.DROPOFF_ANNOUNCED])
def test_a_deposit_failed_by_the_door_takes_the_empty_box_out_of_service(
    state: ParcelState,
) -> None:
    result = transition(parcel_in(state), A.FAIL_DEPOSIT, T0, fault=True)
    assert result.parcel.state is S.DEPOSIT_FAILED
    assert result.effect is E.DISABLE_EMPTY
    assert result.parcel.compartment_code is None
    assert result.event.details == {"fault": True}


@pytest.mark.parametrize("state", [S.RESERVED, S.DROPOFF_ANNOUNCED])
def test_a_deposit_failed_otherwise_releases_the_box(state: ParcelState) -> None:
    result = transition(parcel_in(state), A.FAIL_DEPOSIT, T0)
    assert result.parcel.state is S.DEPOSIT_FAILED
    assert result.effect is E.RELEASE
    assert result.parcel.compartment_code is None
    assert result.event.details == {}


def test_a_pickup_failed_by_the_door_disables_the_box_with_the_parcel_inside() -> None:
    result = transition(parcel_in(S.READY_FOR_PICKUP), A.FAIL_PICKUP, T0, fault=True)
    assert result.parcel.state is S.PICKUP_FAILED
    assert result.effect is E.DISABLE
    assert result.parcel.compartment_code == "A1"
    assert result.event.details == {"fault": True}


def test_a_pickup_failed_by_an_operators_verdict_leaves_the_box_alone() -> None:
    result = transition(parcel_in(S.READY_FOR_PICKUP), A.FAIL_PICKUP, T0)
    assert result.parcel.state is S.PICKUP_FAILED
    assert result.effect is None
    assert result.parcel.compartment_code == "A1"
    assert result.event.details == {}


def test_event_details_are_copied_not_shared() -> None:
    details: dict[str, object] = {"door": "jammed"}
    result = transition(
        parcel_in(S.READY_FOR_PICKUP), A.FAIL_PICKUP, T0, fault=True, details=details
    )
    assert result.event.details == {"door": "jammed", "fault": True}
    assert details == {"door": "jammed"}
    details["door"] = "open"
    assert result.event.details["door"] == "jammed"


# --- the first event --------------------------------------------------------------------------


def test_a_last_mile_parcel_is_announced_without_touching_a_compartment() -> None:
    parcel = new_parcel(Direction.LAST_MILE)
    now = T0 + timedelta(minutes=1)
    result = announce(parcel, now)
    assert result.effect is None
    assert result.parcel == replace(parcel, last_seq=1, updated_at=now)
    assert result.parcel.reserved_until is None
    event = result.event
    assert (event.seq, event.type, event.from_state, event.to_state, event.at) == (
        1,
        "parcel.announced",
        None,
        S.ANNOUNCED,
        now,
    )


def test_a_first_mile_parcel_is_announced_with_its_box_reserved() -> None:
    parcel = new_parcel(Direction.FIRST_MILE)
    now = T0 + timedelta(minutes=1)
    result = announce(parcel, now)
    assert result.effect is E.RESERVE
    assert result.parcel == replace(parcel, last_seq=1, updated_at=now, reserved_until=now + TTL)
    event = result.event
    assert (event.seq, event.type, event.from_state, event.to_state, event.at) == (
        1,
        "parcel.dropoff_announced",
        None,
        S.DROPOFF_ANNOUNCED,
        now,
    )


@pytest.mark.parametrize(
    ("direction", "state"),
    [(Direction.LAST_MILE, S.DROPOFF_ANNOUNCED), (Direction.FIRST_MILE, S.ANNOUNCED)],
)
def test_a_parcel_is_announced_in_the_start_state_of_its_direction(
    direction: Direction, state: ParcelState
) -> None:
    with pytest.raises(IllegalParcelTransition) as caught:
        announce(replace(new_parcel(direction), state=state), T0)
    assert caught.value.code is ErrorCode.ILLEGAL_TRANSITION
    assert str(direction) in caught.value.description


@pytest.mark.parametrize("state", [s for s in S if s not in (S.ANNOUNCED, S.DROPOFF_ANNOUNCED)])
@pytest.mark.parametrize("direction", list(Direction))
def test_only_a_new_parcel_can_be_announced(direction: Direction, state: ParcelState) -> None:
    with pytest.raises(IllegalParcelTransition) as caught:
        announce(replace(new_parcel(direction), state=state), T0)
    assert caught.value.code is ErrorCode.ILLEGAL_TRANSITION
    assert state.value in caught.value.description


@pytest.mark.parametrize("direction", list(Direction))
def test_a_parcel_is_announced_only_once(direction: Direction) -> None:
    first = announce(new_parcel(direction), T0)
    with pytest.raises(IllegalParcelTransition):
        announce(first.parcel, T0 + TICK)
