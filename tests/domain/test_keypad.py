"""Keypad attempt limits (window, lockout, doubling back-off, resets) and the PIN length."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain.keypad import KeypadCounter, KeypadPolicy
from gateway.tokens.pins import looks_like_pin, new_pin

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
POLICY = KeypadPolicy(
    max_failures=3,
    window=timedelta(minutes=5),
    backoff_base=timedelta(seconds=60),
    backoff_cap=timedelta(seconds=300),
    quiet_reset=timedelta(hours=1),
)


def fail(counter: KeypadCounter, at: datetime, times: int = 1) -> KeypadCounter:
    for _ in range(times):
        counter, _lockout = counter.failed(at, POLICY)
    return counter


def test_the_limit_locks_the_keypad_for_the_base_back_off() -> None:
    counter = fail(KeypadCounter("L1"), T0, 2)
    assert counter.failures == 2
    assert not counter.locked(T0)

    counter, lockout = counter.failed(T0, POLICY)

    assert lockout is not None
    assert (lockout.number, lockout.backoff) == (1, timedelta(seconds=60))
    assert counter.locked(T0 + timedelta(seconds=59))
    assert not counter.locked(T0 + timedelta(seconds=60))
    assert counter.failures == 0


def test_each_further_lockout_doubles_up_to_the_cap() -> None:
    counter, now, backoffs = KeypadCounter("L1"), T0, []
    for _ in range(5):
        counter = fail(counter, now, 2)
        counter, lockout = counter.failed(now, POLICY)
        assert lockout is not None
        backoffs.append(lockout.backoff.total_seconds())
        now = lockout.until
    assert backoffs == [60, 120, 240, 300, 300]


def test_wrong_codes_outside_the_window_do_not_add_up() -> None:
    counter = fail(KeypadCounter("L1"), T0, 2)
    counter, lockout = counter.failed(T0 + timedelta(minutes=5), POLICY)
    assert lockout is None
    assert counter.failures == 1


def test_a_quiet_period_starts_the_back_off_over() -> None:
    counter = fail(KeypadCounter("L1"), T0, 3)
    assert counter.lockouts == 1
    later = T0 + timedelta(seconds=60) + POLICY.quiet_reset
    counter = fail(counter, later, 2)
    counter, lockout = counter.failed(later, POLICY)
    assert lockout is not None
    assert (lockout.number, lockout.backoff) == (1, timedelta(seconds=60))


def test_a_correct_code_resets_the_window_and_back_off_but_not_the_daily_count() -> None:
    counter = fail(fail(KeypadCounter("L1"), T0, 3), T0 + timedelta(minutes=2), 2)
    assert counter.succeeded() == KeypadCounter("L1", day_failures=5, day_started_at=T0)


def test_a_huge_lockout_count_stays_at_the_cap() -> None:
    assert POLICY.backoff(10_000) == POLICY.backoff_cap


@pytest.mark.parametrize(
    "changes",
    [
        {"max_failures": 0},
        {"window": timedelta(0)},
        {"backoff_base": timedelta(seconds=-1)},
        {"backoff_base": timedelta(seconds=10), "backoff_cap": timedelta(seconds=5)},
    ],
)
def test_a_nonsense_policy_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        KeypadPolicy(**changes)  # type: ignore[arg-type]


def test_pins_have_eight_to_twelve_digits() -> None:
    assert len(new_pin()) == 8
    assert len(new_pin(12)) == 12
    for digits in (4, 7, 13):
        with pytest.raises(ValueError, match="8 to 12 digits"):
            new_pin(digits)
    assert looks_like_pin("01234567")
    fullwidth = "\uff11" * 8  # digits to str.isdigit(), but not ASCII
    for text in ("1234", "1234567", "1234567890123", "1234567a", fullwidth):
        assert not looks_like_pin(text)
