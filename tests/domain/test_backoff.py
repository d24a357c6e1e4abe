"""The one back-off: equal jitter under a doubling ceiling, and the plain ceiling for lockouts."""

from __future__ import annotations

import pytest

from gateway.domain.backoff import backoff_s
from gateway.domain.keypad import KeypadPolicy


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 1.0), (2, 2.0), (3, 4.0), (11, 1024.0), (13, 3600.0)]
)
def test_equal_jitter_stays_in_the_upper_half_of_the_doubling_ceiling(
    attempt: int, ceiling: float
) -> None:
    def schedule(r: float) -> float:
        return backoff_s(attempt, base_s=1.0, cap_s=3600.0, rand=lambda: r)

    assert schedule(0.0) == ceiling / 2
    assert schedule(0.5) == ceiling * 3 / 4
    assert schedule(1.0) == ceiling


def test_without_jitter_it_is_the_ceiling() -> None:
    assert [backoff_s(n, base_s=60, cap_s=300, rand=None) for n in range(1, 6)] == [
        60,
        120,
        240,
        300,
        300,
    ]


def test_a_huge_attempt_number_does_not_overflow() -> None:
    assert backoff_s(10_000, base_s=1.0, cap_s=60.0, rand=lambda: 1.0) == 60.0
    with pytest.raises(ValueError, match="from 1"):
        backoff_s(0, base_s=1.0, cap_s=60.0, rand=lambda: 1.0)


def test_a_cap_below_the_base_is_refused() -> None:
    with pytest.raises(ValueError, match="base_s <= cap_s"):
        backoff_s(1, base_s=10.0, cap_s=5.0)


def test_keypad_lockouts_are_the_plain_ceiling() -> None:
    policy = KeypadPolicy()  # 1 min doubling to 1 h
    assert [policy.backoff(n).total_seconds() for n in (0, 1, 2, 7, 10_000)] == [
        60,
        60,
        120,
        3600,
        3600,
    ]
