"""The keypad's daily cap, stored: a patient guesser who stays under the window limit is
locked out once the day's wrong codes reach the cap (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from gateway.domain.audit import AuditAction
from gateway.domain.keypad import KeypadPolicy
from gateway.service.audit import AuditService
from gateway.service.codes import CodeService
from gateway.service.keypad import KeypadOutcome, KeypadVerdict, try_code
from gateway.store import Store
from tests.support.clock import MovableClock

LOCKER = "WAW-DAILY-01"
POLICY = KeypadPolicy(
    max_failures=5,
    window=timedelta(minutes=5),
    backoff_base=timedelta(minutes=1),
    backoff_cap=timedelta(hours=1),
    quiet_reset=timedelta(hours=1),
    daily_max_failures=12,
)
STEP_S = 5 * 60 + 1  # a fresh 5-minute window each time: the window limit never trips


async def attempt(store: Store, codes: CodeService, typed: str) -> KeypadOutcome:
    async with store.transaction() as tx:
        return await try_code(tx, codes=codes, policy=POLICY, locker_id=LOCKER, typed=typed)


async def test_a_patient_guesser_meets_the_daily_cap(store: Store) -> None:
    clock = MovableClock()
    codes = CodeService(store=store, clock=clock)
    guesses = (f"{n:08d}" for n in range(41_000_000, 42_000_000))

    # 4 wrong codes per window, under the window limit of 5: only the daily cap can stop it.
    outcomes = []
    for _ in range(3):
        for _ in range(4):
            outcomes.append(await attempt(store, codes, next(guesses)))
        clock.advance(STEP_S)
    async with store.transaction() as tx:
        counter = await tx.keypads.get(LOCKER)
    assert counter is not None
    assert counter.day_started_at is not None
    start = counter.day_started_at  # the first wrong code: the day's window starts there
    verdicts = [o.verdict for o in outcomes]
    assert verdicts == [KeypadVerdict.REJECTED] * 12
    assert [o.lockout is not None for o in outcomes] == [False] * 11 + [True]
    lockout = outcomes[-1].lockout
    assert lockout is not None
    assert lockout.reason == "daily"
    assert lockout.until == start + timedelta(hours=24)

    # Locked for the rest of the day: even a guess is not looked at.
    clock.advance(12 * 3600)
    assert (await attempt(store, codes, next(guesses))).verdict is KeypadVerdict.LOCKED_OUT
    async with store.transaction() as tx:
        counter = await tx.keypads.get(LOCKER)
    assert counter is not None
    assert (counter.day_failures, counter.day_started_at) == (12, start)
    assert counter.locked_until == start + timedelta(hours=24)

    [entry] = await AuditService(store=store).latest(
        10, action=AuditAction.KEYPAD_LOCKOUT, subject=LOCKER
    )
    assert entry.details["reason"] == "daily"
    assert entry.details["dailyMaxFailures"] == 12
    assert entry.details["lockedUntil"] == (start + timedelta(hours=24)).isoformat()

    # Once the 24 hours from the first wrong code are over, a new day's count starts.
    clock.advance((start + timedelta(hours=24) - clock()).total_seconds())
    outcome = await attempt(store, codes, next(guesses))
    assert outcome.verdict is KeypadVerdict.REJECTED
    assert outcome.lockout is None
    async with store.transaction() as tx:
        counter = await tx.keypads.get(LOCKER)
    assert counter is not None
    assert counter.day_failures == 1
