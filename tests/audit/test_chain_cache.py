"""The console's audit check cached per head (gateway/console/audit_check.py): the whole chain
once, then only the entries appended after the head found intact, on both engines. A change
before that head is left to the full check (`AuditService.verify`), which still finds it."""

from __future__ import annotations

from sqlalchemy import delete, update

from gateway.console.audit_check import AuditCheck
from gateway.service.audit import EMPTY_HEAD, AuditService, Breach
from gateway.store import Store
from gateway.store.tables import audit_log as t
from tests.audit.test_chain import PAGE, append_many


def checker(store: Store) -> AuditCheck:
    return AuditCheck(audit=AuditService(store=store, page_size=PAGE))


async def test_a_view_after_n_new_entries_checks_those_n(store: Store) -> None:
    await append_many(store, 6)
    cache = checker(store)
    first = await cache.check()
    assert (first.report.ok, first.report.checked, first.new, first.whole) == (True, 6, 6, True)

    await append_many(store, 3)
    second = await cache.check()
    assert second.report.ok
    assert (second.report.checked, second.new, second.since.position) == (9, 3, 6)
    assert second.report.head.position == 9
    assert not second.whole
    assert second.full_at == first.full_at

    third = await cache.check()  # nothing new: only the head entry is read again
    assert (third.report.ok, third.report.checked, third.new) == (True, 9, 0)


async def test_a_tampered_new_entry_is_found(store: Store) -> None:
    await append_many(store, 4)
    cache = checker(store)
    assert (await cache.check()).report.ok
    await append_many(store, 3)
    async with store.engine.begin() as conn:
        await conn.execute(update(t).where(t.c.position == 6).values(details={"n": 99}))

    found = await cache.check()

    assert found.report.problem is not None
    assert (found.report.problem.position, found.report.problem.breach) == (6, Breach.ALTERED)
    # Not cached over: the next view finds it again.
    again = await cache.check()
    assert again.report.problem is not None
    assert again.report.problem.position == 6


async def test_a_tampered_older_entry_is_left_to_the_full_check(store: Store) -> None:
    await append_many(store, 6)
    cache = checker(store)
    assert (await cache.check()).report.ok
    async with store.engine.begin() as conn:
        await conn.execute(update(t).where(t.c.position == 2).values(details={"n": 99}))
    await append_many(store, 1)

    cached = await cache.check()
    full = await AuditService(store=store, page_size=PAGE).verify()

    # What the page says: 1 entry after position 6 checked, and entries 1..6 checked earlier.
    assert cached.report.ok
    assert (cached.new, cached.since.position) == (1, 6)
    assert full.problem is not None
    assert (full.problem.position, full.problem.breach) == (2, Breach.ALTERED)


async def test_the_head_checked_earlier_must_still_be_there_unchanged(store: Store) -> None:
    await append_many(store, 5)
    cache = checker(store)
    assert (await cache.check()).report.ok
    async with store.engine.begin() as conn:
        await conn.execute(update(t).where(t.c.position == 5).values(details={"n": 99}))
    altered = (await cache.check()).report.problem
    assert altered is not None
    assert (altered.position, altered.breach) == (5, Breach.ALTERED)
    async with store.engine.begin() as conn:
        await conn.execute(update(t).where(t.c.position == 5).values(hash="0" * 64))
    rewritten = (await cache.check()).report.problem
    assert rewritten is not None
    assert (rewritten.position, rewritten.breach) == (5, Breach.ANCHOR_MISMATCH)

    async with store.engine.begin() as conn:
        await conn.execute(delete(t).where(t.c.position >= 4))
    truncated = (await cache.check()).report.problem
    assert truncated is not None
    assert (truncated.position, truncated.breach) == (5, Breach.TRUNCATED)


async def test_the_empty_log_then_its_first_entries(store: Store) -> None:
    cache = checker(store)
    empty = await cache.check()
    assert (empty.report.ok, empty.report.head) == (True, EMPTY_HEAD)
    await append_many(store, 2)
    later = await cache.check()
    assert (later.report.ok, later.report.checked, later.new, later.whole) == (True, 2, 2, True)
