"""Parcel events, idempotency keys and single-use jtis."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from gateway.domain.enums import ParcelState
from gateway.domain.parcel import ParcelEvent
from gateway.errors import ConcurrentUpdate
from gateway.store import IdempotencyRace, IdempotencyRecord, Store
from tests.store.builders import T0

H = timedelta(hours=1)


async def test_events_come_back_in_seq_order(store: Store) -> None:
    first = ParcelEvent(1, "parcel.announced", None, ParcelState.ANNOUNCED, T0)
    second = ParcelEvent(
        2,
        "parcel.reserved",
        ParcelState.ANNOUNCED,
        ParcelState.RESERVED,
        T0 + H,
        {"compartment": "C01", "nested": {"n": [1, 2]}},
    )
    async with store.transaction() as uow:
        await uow.events.append("u1", second)
        await uow.events.append("u1", first)
        await uow.events.append("u2", first)
    async with store.transaction() as uow:
        assert await uow.events.list("u1") == [first, second]
        assert await uow.events.list("u2") == [first]
        assert await uow.events.list("u3") == []


async def test_an_event_seq_is_taken_once(store: Store) -> None:
    event = ParcelEvent(1, "parcel.announced", None, ParcelState.ANNOUNCED, T0)
    async with store.transaction() as uow:
        await uow.events.append("u1", event)
        with pytest.raises(ConcurrentUpdate):
            await uow.events.append("u1", event)


async def test_idempotency_round_trip_and_purge(store: Store) -> None:
    async with store.transaction() as uow:
        put = await uow.idempotency.put("acme", "k1", "sha256:aa", {"status": 201, "body": {}})
        await uow.idempotency.put("globex", "k1", "sha256:bb", {"status": 200})
    async with store.transaction() as uow:
        got = await uow.idempotency.get("acme", "k1")
        assert await uow.idempotency.get("acme", "k2") is None
    assert got == put
    assert got == IdempotencyRecord(
        "acme", "k1", "sha256:aa", {"status": 201, "body": {}}, put.created_at
    )

    async with store.transaction() as uow:
        assert await uow.idempotency.purge(put.created_at - H) == 0
        assert await uow.idempotency.purge(put.created_at + H) == 2
        assert await uow.idempotency.get("acme", "k1") is None


async def test_a_second_put_is_a_race_and_the_winner_stays_readable(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.idempotency.put("acme", "k1", "first", {"n": 1})
        with pytest.raises(IdempotencyRace) as raised:
            await uow.idempotency.put("acme", "k1", "second", {"n": 2})
        winner = await uow.idempotency.get("acme", "k1")
    assert isinstance(raised.value, ConcurrentUpdate)
    assert winner is not None
    assert winner.fingerprint == "first"


async def test_a_jti_is_consumed_once(store: Store) -> None:
    async with store.transaction() as uow:
        assert await uow.jtis.consume("acme", "j1", T0 + H) is True
        assert await uow.jtis.consume("acme", "j1", T0 + H) is False
        assert await uow.jtis.consume("globex", "j1", T0 + H) is True
    async with store.transaction() as uow:
        assert await uow.jtis.consume("acme", "j1", T0 + H) is False


async def test_purge_forgets_expired_jtis_only(store: Store) -> None:
    async with store.transaction() as uow:
        await uow.jtis.consume("acme", "old", T0 - H)
        await uow.jtis.consume("acme", "live", T0 + H)
    async with store.transaction() as uow:
        assert await uow.jtis.purge(T0) == 1
        assert await uow.jtis.consume("acme", "live", T0 + H) is False
        assert await uow.jtis.consume("acme", "old", T0 - H) is True


async def test_a_jti_replay_is_refused_across_a_restart(database_url: str) -> None:
    async with Store.connect(database_url) as store:
        await store.migrate()
        async with store.transaction() as uow:
            assert await uow.jtis.consume("acme", "j1", T0 + H) is True
    async with Store.connect(database_url) as restarted:
        await restarted.migrate()
        async with restarted.transaction() as uow:
            assert await uow.jtis.consume("acme", "j1", T0 + H) is False


async def test_concurrent_consumers_of_one_jti_one_wins(store: Store) -> None:
    async def consume() -> bool:
        async with store.transaction() as uow:
            return await uow.jtis.consume("acme", "contested", T0 + H)

    outcomes = await asyncio.gather(*(consume() for _ in range(50)))
    assert outcomes.count(True) == 1
    assert outcomes.count(False) == 49
