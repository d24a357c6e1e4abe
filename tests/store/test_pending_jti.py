"""A request's token id recorded by its first transaction: once, only by the request's own
task, again after a rollback, never after a refusal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from gateway.errors import AuthenticationFailed
from gateway.store import Store
from gateway.store.jtis import PendingJti, deferred
from gateway.store.tables import used_jtis


def pending(jti: str = "jti-00000001") -> PendingJti:
    expires = datetime.now(UTC) + timedelta(minutes=5)
    return PendingJti(issuer="acme", jti=jti, expires_at=expires)


async def recorded(store: Store) -> int:
    async with store.transaction() as tx:
        count = select(func.count()).select_from(used_jtis)
        return int((await tx.jtis._conn.execute(count)).scalar_one())


async def test_the_first_committed_transaction_records_it_once(store: Store) -> None:
    token = pending()
    with deferred(token):
        async with store.transaction():
            pass
        assert token.used
        async with store.transaction():
            pass  # a second transaction of the request records nothing more
    assert await recorded(store) == 1


async def test_a_rolled_back_transaction_leaves_it_for_the_next(store: Store) -> None:
    token = pending()
    with deferred(token):
        with pytest.raises(RuntimeError):
            async with store.transaction():
                raise RuntimeError("the handler's first transaction failed")
        assert not token.used
        assert await recorded(store) == 1  # this (read) transaction recorded it
        assert token.used


async def test_a_replay_is_refused_and_every_later_transaction_too(store: Store) -> None:
    async with store.transaction() as tx:
        await tx.jtis.consume("acme", "jti-00000001", datetime.now(UTC) + timedelta(minutes=5))
    token = pending()
    with deferred(token):
        with pytest.raises(AuthenticationFailed, match="replayed"):
            async with store.transaction():
                pytest.fail("the body of a replayed request's transaction must not run")
        assert token.refused
        with pytest.raises(AuthenticationFailed, match="replayed"):
            async with store.transaction():
                pytest.fail("nor of a later one")


async def test_another_task_neither_records_nor_waits_for_it(store: Store) -> None:
    token = pending()
    request_ended = asyncio.Event()
    first_done = asyncio.Event()

    async def elsewhere() -> None:
        async with store.transaction():  # while the request runs
            pass
        first_done.set()
        await request_ended.wait()
        async with store.transaction():  # still holding the copied context
            pass

    with deferred(token):
        task = asyncio.create_task(elsewhere())  # the context (and the id) is copied
        await first_done.wait()
        assert not token.used
    request_ended.set()
    await task
    assert not token.used
    assert await recorded(store) == 0
