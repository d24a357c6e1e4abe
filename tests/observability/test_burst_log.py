"""BurstLog: the first line of a burst in full, the rest counted and reported once."""

from __future__ import annotations

import logging

import pytest

from gateway.observability.burst_log import BurstLog


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_logs_its_first_line_and_then_how_many_were_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeTime()
    burst = BurstLog(logging.getLogger("burst-test"), window_s=10, monotonic=clock)
    with caplog.at_level(logging.WARNING, logger="burst-test"):
        for n in range(1000):
            burst.log("dropping expired Boot call from L%d", n)
        assert [r.getMessage() for r in caplog.records] == ["dropping expired Boot call from L0"]
        clock.now = 10.0
        burst.log("dropping expired Boot call from L%d", 1000)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[1:] == [
        "999 more like the line before held back in the last 10 s (counted, not logged)",
        "dropping expired Boot call from L1000",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_a_quiet_condition_logs_every_occurrence(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeTime()
    burst = BurstLog(logging.getLogger("burst-test"), window_s=1, monotonic=clock)
    with caplog.at_level(logging.INFO, logger="burst-test"):
        for n in range(3):
            burst.log("event %d", n)
            clock.now += 5
    assert [r.getMessage() for r in caplog.records] == ["event 0", "event 1", "event 2"]


def test_a_window_must_have_a_length() -> None:
    with pytest.raises(ValueError, match="longer than 0"):
        BurstLog(logging.getLogger("burst-test"), window_s=0)
