"""Dedupe window, sequence gaps and correlation futures."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import OperationTimeout
from gateway.mqtt.dedupe import Deduper, SequenceTracker
from gateway.mqtt.rpc import PendingCalls


def test_deduper_drops_repeats_within_the_window_only() -> None:
    now = [0.0]
    dedupe = Deduper(window_s=600, clock=lambda: now[0])
    assert dedupe.first_time("L-1", "a")
    assert not dedupe.first_time("L-1", "a")
    assert dedupe.first_time("L-2", "a")  # ids are per sender
    now[0] = 601
    assert dedupe.first_time("L-1", "a")


def test_deduper_is_bounded() -> None:
    dedupe = Deduper(max_entries=100)
    for n in range(1000):
        dedupe.first_time("L", str(n))
    assert len(dedupe) <= 100


def test_sequence_gaps() -> None:
    tracker = SequenceTracker()
    assert tracker.observe("L", 5) == 0
    assert tracker.observe("L", 6) == 0
    assert tracker.observe("L", 9) == 2
    assert tracker.observe("L", 1) == 0  # a restart starts again; not a gap


async def test_pending_calls_resolve_and_time_out() -> None:
    calls: PendingCalls[str] = PendingCalls()
    future = calls.expect("c1")
    assert calls.resolve("c1", "result")
    assert await calls.wait("c1", future, 1) == "result"
    assert not calls.resolve("c1", "again")  # late duplicate: nobody waits
    slow = calls.expect("c2")
    with pytest.raises(OperationTimeout):
        await calls.wait("c2", slow, 0.05)
    assert len(calls) == 0


async def test_fail_all_wakes_every_waiter() -> None:
    calls: PendingCalls[str] = PendingCalls()
    future = calls.expect("c3")
    calls.fail_all(ConnectionError("gone"))
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(future, 1)
