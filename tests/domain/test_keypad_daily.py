"""The keypad's daily cap: wrong codes a locker takes per day, whatever the window says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.keypad import KeypadCounter, KeypadPolicy, LockoutReason

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
POLICY = KeypadPolicy(max_failures=5, window=timedelta(minutes=5), daily_max_failures=20)


def test_the_default_policy_caps_a_day_at_a_hundred() -> None:
    assert KeypadPolicy().daily_max_failures == 100
    assert KeypadPolicy().daily_window == timedelta(hours=24)


def test_four_per_window_all_day_is_stopped_at_the_cap() -> None:
    # 4 wrong codes every 5 minutes for 26 hours: under the window limit, the old hole.
    counter, guesses, lockouts = KeypadCounter("L1"), 0, []
    for window in range(26 * 12):
        now = T0 + timedelta(minutes=5 * window)
        for _ in range(4):
            if counter.locked(now):
                break
            counter, lockout = counter.failed(now, POLICY)
            guesses += 1
            if lockout is not None:
                lockouts.append((guesses, lockout))
    (first_at, first), (second_at, second) = lockouts
    assert first_at == 20
    assert (first.reason, first.until) == (LockoutReason.DAILY, T0 + timedelta(hours=24))
    # The next day's window starts at its first wrong code and is capped the same way.
    assert second_at == 40
    assert (second.reason, second.until) == (LockoutReason.DAILY, T0 + timedelta(hours=48))
    assert guesses == 40  # not ~1,100


def test_a_window_lockout_longer_than_the_rest_of_the_day_wins() -> None:
    policy = KeypadPolicy(
        max_failures=2,
        daily_max_failures=2,
        daily_window=timedelta(minutes=10),
        backoff_base=timedelta(hours=1),
    )
    counter, _ = KeypadCounter("L1").failed(T0, policy)
    counter, lockout = counter.failed(T0, policy)
    assert lockout is not None
    assert (lockout.reason, lockout.until) == (LockoutReason.WINDOW, T0 + timedelta(hours=1))


def test_a_correct_code_does_not_buy_more_guesses() -> None:
    counter = KeypadCounter("L1")
    for n in range(19):
        counter, _ = counter.failed(T0 + timedelta(minutes=10 * n), POLICY)
        counter = counter.succeeded()
    counter, lockout = counter.failed(T0 + timedelta(hours=4), POLICY)
    assert lockout is not None
    assert lockout.reason is LockoutReason.DAILY


@pytest.mark.parametrize("changes", [{"daily_max_failures": 0}, {"daily_window": timedelta(0)}])
def test_a_nonsense_daily_cap_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        KeypadPolicy(**changes)  # type: ignore[arg-type]
