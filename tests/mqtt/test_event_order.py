"""The processed mark per locker: duplicates skipped, gaps refused, rollbacks keep the mark."""

from __future__ import annotations

import pytest

from gateway.domain.enums import SizeClass
from gateway.sdk import DoorOpened, JournalReported, ReplayReport
from gateway.service.adapters import AdapterDirectory
from gateway.service.event_order import EventGap, EventOrder
from gateway.store import Store
from tests.store.builders import T0, compartments, locker

LOCKER = "WAW-001"


@pytest.fixture
async def order(store: Store) -> EventOrder:
    async with store.transaction() as tx:
        await tx.lockers.add(locker(LOCKER), compartments(LOCKER, [SizeClass.S]))
        await tx.sessions.mark_booted(LOCKER, T0, "1.0", {})
    # No adapter runs: replays cannot be asked for, which these tests do not need.
    return EventOrder(store=store, adapters=AdapterDirectory(store=store, adapters={}))


def opened(event_seq: int | None, locker_id: str = LOCKER) -> DoorOpened:
    return DoorOpened(
        locker_id=locker_id,
        at=T0,
        event_id=f"e-{event_seq}",
        event_seq=event_seq,
        compartment_code="C01",
    )


async def admit(store: Store, order: EventOrder, event: DoorOpened) -> bool:
    async with store.transaction() as tx:
        return await order.admit(tx, event)


async def mark(store: Store, locker_id: str = LOCKER) -> int | None:
    async with store.transaction() as tx:
        return await tx.sessions.event_mark(locker_id)


async def test_in_order_events_move_the_mark_and_repeats_are_skipped(
    store: Store, order: EventOrder
) -> None:
    assert await mark(store) == 0
    assert await admit(store, order, opened(1))
    assert await admit(store, order, opened(2))
    assert await mark(store) == 2
    assert not await admit(store, order, opened(2))
    assert not await admit(store, order, opened(1))
    assert await mark(store) == 2


async def test_a_gap_is_refused_without_moving_the_mark(store: Store, order: EventOrder) -> None:
    assert await admit(store, order, opened(1))
    with pytest.raises(EventGap) as caught:
        await admit(store, order, opened(4))
    assert (caught.value.mark, caught.value.event_seq) == (1, 4)
    assert await mark(store) == 1
    assert await admit(store, order, opened(2))


async def test_events_without_a_number_are_not_ordered(store: Store, order: EventOrder) -> None:
    assert await admit(store, order, opened(None))
    assert await admit(store, order, opened(None))
    assert await mark(store) == 0


async def test_a_failure_before_commit_leaves_the_mark(store: Store, order: EventOrder) -> None:
    """The crash window: applied and marked in one transaction, or neither."""

    async def apply_then_die() -> None:
        async with store.transaction() as tx:
            assert await order.admit(tx, opened(1))
            raise RuntimeError("the gateway died before its commit")

    with pytest.raises(RuntimeError, match="died"):
        await apply_then_die()
    assert await mark(store) == 0
    assert await admit(store, order, opened(1))


async def test_a_locker_never_seen_is_not_held_back(store: Store, order: EventOrder) -> None:
    assert await admit(store, order, opened(7, locker_id="NOBODY"))
    assert await mark(store, "NOBODY") is None


async def test_a_boot_below_the_mark_means_a_reset_journal(
    store: Store, order: EventOrder, caplog: pytest.LogCaptureFixture
) -> None:
    for n in (1, 2, 3):
        assert await admit(store, order, opened(n))
    report = JournalReported(locker_id=LOCKER, at=T0, event_id="hb", last_event_seq=1)
    await order.reported(report)  # a Heartbeat may lag behind: no reset
    assert await mark(store) == 3

    boot = JournalReported(locker_id=LOCKER, at=T0, event_id="boot", last_event_seq=0, at_boot=True)
    await order.reported(boot)
    assert await mark(store) == 0
    assert "its journal was reset" in caplog.text
    assert await admit(store, order, opened(1))


async def test_a_report_ahead_of_the_mark_without_an_adapter_keeps_the_mark(
    store: Store, order: EventOrder, caplog: pytest.LogCaptureFixture
) -> None:
    await order.reported(JournalReported(locker_id=LOCKER, at=T0, event_id="hb", last_event_seq=5))
    assert await mark(store) == 0
    assert "no adapter to ask for a replay" in caplog.text


def test_a_replay_report_names_the_lost_numbers() -> None:
    assert list(ReplayReport(after_seq=3, replayed=2, oldest_seq=4, last_seq=5).lost) == []
    assert list(ReplayReport(after_seq=3, replayed=1, oldest_seq=7, last_seq=7).lost) == [4, 5, 6]
    empty = ReplayReport(after_seq=3, replayed=0, oldest_seq=10, last_seq=9)
    assert list(empty.lost) == [4, 5, 6, 7, 8, 9]
