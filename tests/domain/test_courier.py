"""Courier rounds: what the manifest lists, the order a session code opens doors, the status."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from gateway.domain.courier import (
    CollectReason,
    CourierSession,
    CourierTask,
    ItemStatus,
    SessionDoor,
    SessionState,
    collect_reason,
    item_status,
    manifest_lines,
    next_in_order,
    round_items,
    session_ttl,
    task_for,
)
from gateway.domain.enums import Direction, ParcelState
from gateway.domain.parcel import Parcel
from tests.domain.builders import T0, new_parcel

S = ParcelState


def parcel(uid: str, state: ParcelState, compartment: str | None = "A1", **changes: Any) -> Parcel:
    return replace(new_parcel(uid=uid), state=state, compartment_code=compartment, **changes)


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (S.EXPIRED, CollectReason.EXPIRED),
        (S.REDIRECTED, CollectReason.REDIRECTED),
        (S.PICKUP_FAILED, CollectReason.PICKUP_FAILED),
        (S.DROPPED_OFF, CollectReason.DROPPED_OFF),
        (S.RESERVED, None),
        (S.COLLECTED, None),
    ],
)
def test_collect_reason_by_state(state: ParcelState, reason: CollectReason | None) -> None:
    assert collect_reason(parcel("p", state), T0) is reason


def test_ready_for_pickup_is_overdue_only_once_its_window_ran_out() -> None:
    ready = parcel("p", S.READY_FOR_PICKUP, pickup_until=T0)
    assert collect_reason(ready, T0 - timedelta(seconds=1)) is None
    assert collect_reason(ready, T0 + timedelta(seconds=1)) is CollectReason.OVERDUE
    # Overdue is listed, but the code opens it only once its expiry is recorded.
    assert task_for(ready) is None


def test_nothing_inside_is_never_collected() -> None:
    assert collect_reason(parcel("p", S.EXPIRED, compartment=None), T0) is None
    assert task_for(parcel("p", S.EXPIRED, compartment=None)) is None


def test_a_first_mile_reservation_is_the_sender_s_not_the_courier_s() -> None:
    dropoff = parcel("p", S.RESERVED, direction=Direction.FIRST_MILE)
    assert task_for(dropoff) is None
    assert task_for(parcel("p", S.RESERVED)) is CourierTask.DEPOSIT


def test_manifest_lines_are_by_locker_then_compartment() -> None:
    found = manifest_lines(
        [
            parcel("a", S.EXPIRED, "B2", locker_id="L2"),
            parcel("b", S.EXPIRED, "C1", locker_id="L1"),
            parcel("c", S.DROPPED_OFF, "A3", locker_id="L1"),
            parcel("d", S.RESERVED, "A1", locker_id="L1"),
        ],
        T0,
    )
    assert [line.parcel.uid for line in found] == ["c", "b", "a"]


def test_the_code_opens_deposits_first_then_collections_each_once() -> None:
    work = [
        parcel("collect-a2", S.EXPIRED, "A2"),
        parcel("deposit-b1", S.RESERVED, "B1"),
        parcel("deposit-a3", S.RESERVED, "A3"),
        parcel("collect-a1", S.DROPPED_OFF, "A1"),
        parcel("ready", S.READY_FOR_PICKUP, "A4"),
    ]
    order = [p.uid for p in next_in_order(work, set())]
    assert order == ["deposit-a3", "deposit-b1", "collect-a1", "collect-a2"]
    assert [p.uid for p in next_in_order(work, {"deposit-a3", "collect-a1"})] == [
        "deposit-b1",
        "collect-a2",
    ]


@pytest.mark.parametrize(
    ("task", "state", "status"),
    [
        (CourierTask.DEPOSIT, S.RESERVED, ItemStatus.OPENED),
        (CourierTask.DEPOSIT, S.READY_FOR_PICKUP, ItemStatus.DONE),
        (CourierTask.DEPOSIT, S.PICKED_UP, ItemStatus.DONE),
        (CourierTask.DEPOSIT, S.DEPOSIT_FAILED, ItemStatus.FAILED),
        (CourierTask.DEPOSIT, S.CANCELLED, ItemStatus.FAILED),
        (CourierTask.COLLECT, S.EXPIRED, ItemStatus.OPENED),
        (CourierTask.COLLECT, S.COLLECTED, ItemStatus.DONE),
        (CourierTask.COLLECT, S.RETURNED, ItemStatus.DONE),
        (CourierTask.COLLECT, S.PICKED_UP, ItemStatus.FAILED),
    ],
)
def test_item_status(task: CourierTask, state: ParcelState, status: ItemStatus) -> None:
    assert item_status(task, state) is status


def test_round_items_list_opened_doors_then_what_is_left() -> None:
    deposited = parcel("d1", S.READY_FOR_PICKUP, "B1")
    door = SessionDoor("cs_x", "d1", CourierTask.DEPOSIT, "B1", T0)
    gone = SessionDoor("cs_x", "purged", CourierTask.COLLECT, "C1", T0)
    work = [parcel("d2", S.RESERVED, "A1"), parcel("c1", S.EXPIRED, "A2")]
    items = round_items(work, [(door, deposited), (gone, None)])
    assert [(i.parcel.uid, i.task, i.status) for i in items] == [
        ("d1", CourierTask.DEPOSIT, ItemStatus.DONE),
        ("d2", CourierTask.DEPOSIT, ItemStatus.PENDING),
        ("c1", CourierTask.COLLECT, ItemStatus.PENDING),
    ]
    assert items[0].opened_at == T0
    assert items[1].opened_at is None


def test_session_state_and_lifetime_bounds() -> None:
    session = CourierSession("cs_x", "c", "L", T0, T0 + timedelta(hours=1))
    assert session.state(T0) is SessionState.OPEN
    assert session.state(T0 + timedelta(hours=1)) is SessionState.EXPIRED
    assert replace(session, closed_at=T0).state(T0) is SessionState.CLOSED
    assert session_ttl(None) == timedelta(hours=4)
    assert session_ttl(timedelta(minutes=5)) == timedelta(minutes=5)
    for bad in (timedelta(minutes=4), timedelta(hours=12, seconds=1)):
        with pytest.raises(ValueError, match="courier session lasts"):
            session_ttl(bad)
