"""The chain head remembered between transactions: one statement per auditing transaction, and
a wrong guess (another writer, a rollback, a deleted tail) still leaves one intact chain."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import delete, event, func, select

from gateway.domain.audit import AuditAction
from gateway.service.audit import AuditService
from gateway.store import Store
from gateway.store.tables import audit_log as t


async def append(store: Store, n: int, *, entries: int = 1) -> None:
    async with store.transaction() as tx:
        for i in range(entries):
            await tx.audit.append(
                AuditAction.CODE_TRIED,
                actor="locker:L1",
                subject="L1",
                details={"result": "rejected", "n": n, "i": i},
            )


@contextmanager
def audit_statements(store: Store) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        sql = str(args[2])
        if "audit_log" in sql:
            seen.append(sql)

    engine = store.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def intact(store: Store, entries: int) -> None:
    report = await AuditService(store=store, page_size=3).verify()
    assert report.ok, report.problem
    assert report.checked == entries


async def test_an_auditing_transaction_writes_without_reading_the_head(store: Store) -> None:
    await append(store, 0)
    with audit_statements(store) as seen:
        await append(store, 1)
        await append(store, 2, entries=3)
    # One guarded INSERT for a single entry; the guarded first row plus one INSERT for three.
    assert len(seen) == 3, seen
    assert not any(s.lstrip().startswith("SELECT") for s in seen), seen
    await intact(store, 5)


async def test_a_head_moved_by_another_store_is_read_again(database_url: str) -> None:
    async with Store.connect(database_url) as one, Store.connect(database_url) as other:
        await one.migrate()
        await append(one, 0)
        await append(other, 1)  # `one`'s remembered head is now stale
        with audit_statements(one) as seen:
            await append(one, 2)
        assert any(s.lstrip().startswith("SELECT") for s in seen), "the head was not re-read"
        await append(other, 3)
        await intact(one, 4)


async def written_then_rolled_back(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.audit.append(AuditAction.CODE_TRIED, actor="locker:L1", subject="L1")
        await tx.audit.head()  # written inside the transaction, which then fails
        raise RuntimeError("rolled back")


async def test_a_rolled_back_append_leaves_no_hole(store: Store) -> None:
    await append(store, 0)
    with pytest.raises(RuntimeError, match="rolled back"):
        await written_then_rolled_back(store)
    await append(store, 1)
    await intact(store, 2)


async def test_a_deleted_tail_is_chained_on_as_before(store: Store) -> None:
    """The guess names the deleted row, so the head is read and the chain goes on from the row
    that is left (a deleted tail shows only against an anchor, as it always did)."""
    for n in range(3):
        await append(store, n)
    async with store.engine.begin() as conn:
        last = (await conn.execute(select(func.max(t.c.position)))).scalar_one()
        await conn.execute(delete(t).where(t.c.position == last))
    await append(store, 3)
    await intact(store, 3)
