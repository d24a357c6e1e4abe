"""On PostgreSQL a commit that makes outbox rows due wakes every instance's delivery engine
(NOTIFY in the queuing transaction, one LISTEN per engine), not only the committing process's.

Polls are set to 30 s: a delivery that lands within a few seconds was woken, not polled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from gateway.service.deliveries import DeliveryService
from gateway.store import Store
from tests.webhooks.conftest import FakeCarrier, running

pytestmark = pytest.mark.postgres
SLOW_POLL: dict[str, Any] = {"webhook_poll_interval_s": 30.0, "webhook_max_attempts": 1}


@pytest.fixture
def pg_url(_clean_postgres: str) -> str:
    return _clean_postgres


@pytest.fixture
async def receiver() -> AsyncIterator[FakeCarrier]:
    async with FakeCarrier() as carrier:
        yield carrier


async def until(what: str, probe: object, within: float) -> float:
    """Seconds it took for `probe()` to be true; fails after `within`."""
    started = time.monotonic()
    assert callable(probe)
    while not probe():
        if time.monotonic() - started > within:
            raise AssertionError(f"{what} did not happen within {within:g} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_a_replay_from_another_process_is_delivered_at_once(
    pg_url: str, receiver: FakeCarrier
) -> None:
    receiver.on().always_fail = True
    async with running(pg_url, receiver, instance="gw-b", **SLOW_POLL) as hooks:
        gateway = hooks.site.gateway
        await until("listening", lambda: gateway.outbox_wake_ups.listening, 10)
        webhook = await hooks.subscribe()
        await hooks.book("WAKE-1")  # queued by this instance: attempted at once, fails, dead
        # Booked: announced and reserved, each attempted once and dead.
        dead = await hooks.settled(webhook["id"], 2)
        assert {d["state"] for d in dead} == {"dead"}
        ids = sorted(int(d["id"]) for d in dead)
        receiver.on().always_fail = False
        # Another process (`openlocker deliveries replay`, another instance) makes it due.
        async with Store.connect(pg_url) as other:
            notified = gateway.outbox_wake_ups.notified
            outcomes = await DeliveryService(store=other).replay_ids(ids)
            assert sorted(o.delivery_id for o in outcomes) == ids
        took = await until("the replayed deliveries", lambda: len(receiver.delivered()) == 2, 10)
        assert took < 5.0  # the poll would take up to 30 s
        assert gateway.outbox_wake_ups.notified > notified


async def test_a_row_queued_through_one_instance_wakes_the_other(
    pg_url: str, receiver: FakeCarrier
) -> None:
    async with (
        running(pg_url, receiver, instance="gw-a", **SLOW_POLL) as a,
        running(pg_url, receiver, setup=False, instance="gw-b", **SLOW_POLL) as b,
    ):
        ears = b.site.gateway.outbox_wake_ups
        await until("listening", lambda: ears.listening, 10)
        await a.subscribe()
        before = ears.notified
        await a.book("WAKE-2")  # queued through instance A
        await until("instance B told", lambda: ears.notified > before, 5)
        await until("delivered", lambda: len(receiver.delivered()) == 2, 10)


async def test_a_lost_listen_connection_comes_back(pg_url: str, receiver: FakeCarrier) -> None:
    async with running(pg_url, receiver, instance="gw-b", **SLOW_POLL) as hooks:
        ears = hooks.site.gateway.outbox_wake_ups
        await until("listening", lambda: ears.listening, 10)
        # The server ends the listening session (a restart, a failover, an operator).
        killer = await asyncpg.connect(pg_url)
        try:
            ended = await killer.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
            )
        finally:
            await killer.close()
        assert ended == 1
        await until("the loss noticed", lambda: not ears.listening, 10)
        await until("listening again", lambda: ears.listening, 10)
        await hooks.subscribe()
        before = ears.notified
        await hooks.book("WAKE-3")  # its own NOTIFY reaches the new LISTEN too
        await until("told again", lambda: ears.notified > before, 5)
