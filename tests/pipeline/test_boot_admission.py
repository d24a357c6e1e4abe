"""Boot admission: a boot storm is answered `Pending` beyond a bound, before any database work.

Without it, a broker restart queued every locker's Boot for the database pool; the last ones
were answered after the locker's own timeout, retried, and the backlog never drained
(bench/boot_storm.py). The unit half checks the arithmetic with a fake clock; the other half
runs a real BootGate over the real database.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError

from gateway.sdk import BootStatus
from gateway.service.boot_admission import MAX_WAIT_S, BootAdmission
from gateway.service.boot_gate import BootGate
from tests.pipeline.conftest import LOCKER, DatabaseFaults, Rig
from tests.pipeline.test_boot_cost import INFO


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_admits_up_to_its_limit_then_turns_away_until_one_leaves() -> None:
    admission = BootAdmission(limit=2, monotonic=FakeTime(), rand=lambda: 0.0)
    assert admission.enter("L1") is None
    assert admission.enter("L2") is None
    turned = admission.enter("L3")
    assert turned is not None
    assert (turned.in_flight, turned.backlog, turned.wait_s) == (2, 1, 1)
    admission.leave()
    assert admission.enter("L3") is None  # admitted now, and no longer counted as waiting
    assert admission.enter("L4") is not None
    assert admission.turned_away == 2


def test_the_wait_spreads_the_backlog_over_its_drain_time() -> None:
    clock = FakeTime()
    picks = iter([1.0] * 1000)
    admission = BootAdmission(limit=1, monotonic=clock, rand=lambda: next(picks))
    # Ten Boots completed over the last 5 s: 2 per second (the first sets the window's start).
    for _ in range(11):
        assert admission.enter("busy") is None
        admission.leave()
        clock.now += 0.5
    assert admission.enter("busy") is None  # holds the only place
    waits = [admission.enter(f"L{n}") for n in range(40)]
    assert all(w is not None for w in waits)
    # The 40th locker waits behind 39 others at 2/s: ~20 s at the top of its spread (rand=1).
    last = waits[-1]
    assert last is not None
    assert last.backlog == 40
    assert last.wait_s == 20
    first = waits[0]
    assert first is not None
    assert first.wait_s == 2


def test_the_wait_is_capped_and_a_locker_counts_once() -> None:
    clock = FakeTime()
    admission = BootAdmission(limit=1, monotonic=clock, rand=lambda: 1.0)
    admission.enter("busy")
    for n in range(10_000):
        admission.enter(f"L{n}")
    again = admission.enter("L0")  # the same locker asking again is not a new one
    assert again is not None
    assert again.backlog == 10_000
    assert again.wait_s == MAX_WAIT_S


def test_lockers_that_never_came_back_are_forgotten() -> None:
    clock = FakeTime()
    admission = BootAdmission(limit=1, monotonic=clock, rand=lambda: 0.0)
    admission.enter("busy")
    for n in range(5):
        admission.enter(f"old-{n}")
    clock.now += 2 * MAX_WAIT_S + 1
    turned = admission.enter("new")
    assert turned is not None
    assert turned.backlog == 1


def test_leave_without_enter_is_a_bug_not_a_negative_count() -> None:
    with pytest.raises(RuntimeError, match="without a matching enter"):
        BootAdmission(limit=1).leave()
    with pytest.raises(ValueError, match="at least 1"):
        BootAdmission(limit=0)


async def test_a_storm_beyond_the_limit_is_answered_pending_without_touching_the_database(
    rig: Rig,
) -> None:
    gate = BootGate(store=rig.store, admission=BootAdmission(limit=1))
    began: list[object] = []

    def on_begin(connection: object) -> None:
        began.append(connection)

    engine = rig.store.engine.sync_engine
    event.listen(engine, "begin", on_begin)
    try:
        decisions = await asyncio.gather(*(gate.authorize_boot(LOCKER, INFO) for _ in range(10)))
    finally:
        event.remove(engine, "begin", on_begin)
    statuses = [d.status for d in decisions]
    # The first holds the only place while it waits for the database; the other nine are
    # answered at once, and only the admitted Boot opened a transaction.
    assert statuses.count(BootStatus.ACCEPTED) == 1
    assert statuses.count(BootStatus.PENDING) == 9
    assert len(began) == 1
    pending = [d for d in decisions if d.status is BootStatus.PENDING]
    assert all(1 <= d.heartbeat_interval_s <= MAX_WAIT_S for d in pending)
    assert all(d.reason == "gateway busy" for d in pending)
    assert gate.admission.in_flight == 0
    # Once the storm has passed, a Boot goes straight through.
    assert (await gate.authorize_boot(LOCKER, INFO)).status is BootStatus.ACCEPTED


async def test_a_failed_admitted_boot_gives_its_place_back(
    rig: Rig, faults: DatabaseFaults
) -> None:
    gate = BootGate(store=rig.store, admission=BootAdmission(limit=1))
    # The rig's locker has a session: its Boot is an UPDATE, which the database now refuses.
    await faults.refuse_updates("locker_sessions", "no boots today")
    with pytest.raises(DBAPIError, match="no boots today"):
        await gate.authorize_boot(LOCKER, INFO)
    assert gate.admission.in_flight == 0
    await faults.heal()
    assert (await gate.authorize_boot(LOCKER, INFO)).status is BootStatus.ACCEPTED
