"""The pure compartment model: every action and every fault, no I/O."""

from __future__ import annotations

import pytest
from locker_emulator.physics import (
    Compartment,
    CompartmentFaults,
    DoorClosed,
    DoorOpened,
    DoorState,
    FaultKind,
    FaultRaised,
    ItemSensor,
    PhysicsError,
    UnlockOutcome,
    close,
    deposit,
    leave_open,
    set_enabled,
    set_faults,
    take,
    tick,
    unlock,
)


def comp(**faults: object) -> Compartment:
    return Compartment(code="A01", size_class="S", faults=CompartmentFaults(**faults))  # type: ignore[arg-type]


def opened(c: Compartment, now: float = 0.0) -> Compartment:
    t = unlock(c, now=now)
    assert t.outcome is UnlockOutcome.UNLOCKED
    return t.compartment


def test_unlock_opens_the_door_and_reports_it() -> None:
    t = unlock(comp(), now=5.0)
    assert t.outcome is UnlockOutcome.UNLOCKED
    assert t.compartment.door is DoorState.OPEN
    assert t.compartment.opened_at == 5.0
    assert t.events == (DoorOpened("A01"),)


def test_unlocking_an_open_door_is_already_open_and_silent() -> None:
    t = unlock(opened(comp()), now=1.0)
    assert t.outcome is UnlockOutcome.ALREADY_OPEN
    assert t.events == ()


def test_an_open_door_stays_open_until_an_actor_closes_it() -> None:
    c = opened(comp())
    for now in (1.0, 100.0, 10_000.0):
        c = tick(c, now=now).compartment
    assert c.door is DoorState.OPEN


def test_deposit_puts_the_item_in_and_shuts_the_door() -> None:
    t = deposit(opened(comp()))
    assert t.compartment.item_inside
    assert t.compartment.door is DoorState.CLOSED
    assert t.events == (DoorClosed("A01", ItemSensor.PRESENT),)


def test_take_removes_the_item_and_shuts_the_door() -> None:
    full = deposit(opened(comp())).compartment
    t = take(opened(full))
    assert not t.compartment.item_inside
    assert t.events == (DoorClosed("A01", ItemSensor.ABSENT),)


def test_close_shuts_the_door_empty_handed() -> None:
    t = close(opened(comp()))
    assert t.compartment.door is DoorState.CLOSED
    assert t.events == (DoorClosed("A01", ItemSensor.ABSENT),)


def test_leave_open_changes_nothing() -> None:
    c = opened(comp())
    t = leave_open(c)
    assert t.compartment == c
    assert t.events == ()


@pytest.mark.parametrize("action", [deposit, take, close, leave_open])
def test_no_action_reaches_through_a_closed_door(action: object) -> None:
    with pytest.raises(PhysicsError, match="door is closed"):
        action(comp())  # type: ignore[operator]


def test_deposit_into_an_occupied_compartment_and_take_from_an_empty_one_fail() -> None:
    full = deposit(opened(comp())).compartment
    with pytest.raises(PhysicsError, match="already holds"):
        deposit(opened(full))
    with pytest.raises(PhysicsError, match="empty"):
        take(opened(comp()))


def test_jammed_door_gives_door_jammed_and_a_fault_then_clears() -> None:
    t = unlock(comp(jammed=True), now=0.0)
    assert t.outcome is UnlockOutcome.DOOR_JAMMED
    assert t.compartment.door is DoorState.JAMMED
    assert t.events == (FaultRaised("A01", FaultKind.DOOR_JAMMED, t.events[0].description),)  # type: ignore[union-attr]
    with pytest.raises(PhysicsError, match="jammed"):
        deposit(t.compartment)
    cleared = set_faults(t.compartment, CompartmentFaults())
    assert cleared.compartment.door is DoorState.CLOSED
    (event,) = cleared.events
    assert isinstance(event, FaultRaised)
    assert (event.fault, event.cleared) == (FaultKind.DOOR_JAMMED, True)
    assert unlock(cleared.compartment, now=1.0).outcome is UnlockOutcome.UNLOCKED


def test_stuck_lock_gives_unlock_failed_and_a_lock_fault() -> None:
    t = unlock(comp(stuck_lock=True), now=0.0)
    assert t.outcome is UnlockOutcome.UNLOCK_FAILED
    assert t.compartment.door is DoorState.CLOSED
    (event,) = t.events
    assert isinstance(event, FaultRaised)
    assert event.fault is FaultKind.LOCK_FAULT
    assert not event.cleared
    (cleared,) = set_faults(t.compartment, CompartmentFaults()).events
    assert isinstance(cleared, FaultRaised)
    assert cleared.cleared


def test_clearing_a_fault_that_never_fired_reports_nothing() -> None:
    assert set_faults(comp(jammed=True, stuck_lock=True), CompartmentFaults()).events == ()


def test_lying_sensor_reports_the_opposite_of_the_truth() -> None:
    liar = comp(lying_sensor=True)
    assert liar.item_sensor is ItemSensor.PRESENT  # empty, says present
    t = deposit(opened(liar))
    assert t.compartment.item_inside
    assert t.events == (DoorClosed("A01", ItemSensor.ABSENT),)


def test_without_a_sensor_the_reading_is_unknown() -> None:
    blind = Compartment(code="B1", size_class="M", has_sensor=False)
    t = deposit(opened(blind))
    assert t.events == (DoorClosed("B1", ItemSensor.UNKNOWN),)
    lying_blind = Compartment(
        code="B1", size_class="M", has_sensor=False, faults=CompartmentFaults(lying_sensor=True)
    )
    assert lying_blind.item_sensor is ItemSensor.UNKNOWN


def test_door_left_open_alarm_fires_once_after_the_limit_and_clears_on_close() -> None:
    c = opened(comp(door_left_open=30.0), now=100.0)
    assert tick(c, now=129.0).events == ()
    fired = tick(c, now=130.5)
    (event,) = fired.events
    assert isinstance(event, FaultRaised)
    assert event.fault is FaultKind.DOOR_LEFT_OPEN
    assert tick(fired.compartment, now=200.0).events == ()
    shut = close(fired.compartment)
    assert shut.events[0] == DoorClosed("A01", ItemSensor.ABSENT)
    (_, cleared) = shut.events
    assert isinstance(cleared, FaultRaised)
    assert cleared.cleared
    assert cleared.fault is FaultKind.DOOR_LEFT_OPEN


def test_without_the_door_left_open_setting_no_alarm() -> None:
    assert tick(opened(comp(), now=0.0), now=1e9).events == ()


def test_set_enabled_changes_only_availability() -> None:
    t = set_enabled(comp(), False)
    assert not t.compartment.enabled
    assert t.events == ()
