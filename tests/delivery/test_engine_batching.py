"""Database work per batch: outcomes settled together (still fenced per row), routes
refreshed once per claim and kept in memory, the engine woken by commits that queue rows."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest

from gateway.delivery.attachment_routes import AttachmentRoutes
from gateway.delivery.engine import EngineSettings
from gateway.delivery.routes import Route, TargetKind
from gateway.delivery.settle import Settler
from gateway.delivery.transports.base import Outcome
from gateway.delivery.webhook_routes import WebhookRoutes
from gateway.domain.webhooks import DeliveryState
from gateway.store import Delivery, NewDelivery, Store, UnitOfWork
from tests.delivery.engine_support import (
    CARRIER,
    FAST,
    T0,
    Book,
    add_attachment,
    add_subscription,
    enqueue,
    event_body,
    make_engine,
    rows,
    running,
    settled,
)
from tests.support.clock import MovableClock
from tests.webhooks.conftest import FakeCarrier
from tests.webhooks.conftest import running as gateway_running

LEASE = timedelta(seconds=30)


@pytest.fixture
async def receiver() -> AsyncIterator[FakeCarrier]:
    async with FakeCarrier() as carrier:
        yield carrier


@contextlib.contextmanager
def counted_transactions(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts the store's transactions while the block runs: `[count]`."""
    count = [0]
    original = store.transaction

    def counting() -> Any:
        count[0] += 1
        return original()

    monkeypatch.setattr(store, "transaction", counting)
    yield count
    monkeypatch.undo()


async def claim(store: Store, clock: MovableClock, limit: int = 10) -> list[Delivery]:
    async with store.transaction() as tx:
        return await tx.outbox.claim(now=clock(), lease_until=clock() + LEASE, limit=limit)


def route_for(target_id: str) -> Route:
    book = Book()
    return book.add(target_id, "http://127.0.0.1:1/unused")


@contextlib.asynccontextmanager
async def flushing(settler: Settler) -> AsyncIterator[Settler]:
    async with asyncio.TaskGroup() as group:
        task = group.create_task(settler.run_forever(), name="test-settle")
        try:
            yield settler
        finally:
            task.cancel()


def settler_for(store: Store, clock: MovableClock, delay_s: float = 0.05) -> Settler:
    return Settler(
        store=store, actor="gateway:test", clock=clock, rand=lambda: 0.5, delay_s=delay_s
    )


# ---- batched outcomes ----------------------------------------------------------------------


async def test_outcomes_ending_together_share_one_transaction_and_stay_fenced(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = MovableClock()
    for n in range(3):
        await enqueue(store, "c1", f"P-{n}", 1)
    first, second, third = await claim(store, clock)
    # The first row's lease ran out and another instance took it over meanwhile.
    clock.advance(LEASE.total_seconds() + 1)
    (taken_over,) = await claim(store, clock, limit=1)
    assert (taken_over.id, taken_over.attempts) == (first.id, 2)

    route = route_for("c1")
    with counted_transactions(store, monkeypatch) as count:
        async with flushing(settler_for(store, clock)) as settler:
            await asyncio.gather(
                settler.outcome(first, route, Outcome(ok=True, status=204)),
                settler.outcome(second, route, Outcome(ok=True, status=204)),
                settler.outcome(third, route, Outcome(ok=False, status=500)),
            )
    assert count == [1], "three outcomes that ended together took more than one commit"

    by_id = {d.id: d for d in await rows(store, "c1")}
    # The stale claim's "delivered" did not overwrite the row the other instance holds.
    kept = by_id[first.id]
    assert (kept.state, kept.attempts, kept.next_attempt_at) == (
        DeliveryState.PENDING,
        2,
        taken_over.next_attempt_at,
    )
    assert kept.delivered_at is None
    assert by_id[second.id].state == DeliveryState.DELIVERED
    failed = by_id[third.id]
    assert (failed.state, failed.last_status) == (DeliveryState.PENDING, 500)
    assert failed.next_attempt_at is not None
    assert failed.next_attempt_at < clock() + LEASE  # the back-off, no longer the lease


async def test_outcomes_not_yet_flushed_when_the_engine_stops_are_only_sent_again(
    store: Store,
) -> None:
    clock = MovableClock()
    await enqueue(store, "c1", "P-1", 1)
    (claimed,) = await claim(store, clock)
    settler = settler_for(store, clock, delay_s=30)  # the flush never comes in time
    async with asyncio.TaskGroup() as group:
        flusher = group.create_task(settler.run_forever(), name="test-settle")
        waiting = group.create_task(
            settler.outcome(claimed, route_for("c1"), Outcome(ok=True, status=204)),
            name="test-attempt",
        )
        await asyncio.sleep(0.05)
        flusher.cancel()  # the process stops (a crash loses even less: nothing is written)
    assert waiting.cancelled()

    (row,) = await rows(store, "c1")
    assert (row.state, row.attempts) == (DeliveryState.PENDING, 1)  # outcome lost, row not
    assert await claim(store, clock) == []  # still leased...
    clock.advance(LEASE.total_seconds() + 1)
    (again,) = await claim(store, clock)  # ...and sent once more after the lease
    assert (again.id, again.attempts) == (claimed.id, 2)


async def test_a_busy_engine_commits_far_fewer_times_than_it_delivers(
    store: Store, receiver: FakeCarrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = Book()
    book.add("c1", receiver.url())
    for n in range(40):
        await enqueue(store, "c1", f"P-{n:02d}", 1)
    with counted_transactions(store, monkeypatch) as count:
        async with make_engine(store, book, max_in_flight=40) as engine:
            assert await engine.run_once() == 40
    assert len(receiver.delivered()) == 40
    assert {d.state for d in await rows(store, "c1")} == {DeliveryState.DELIVERED}
    # One claim and a few flushes, where it used to be a claim plus one commit per row.
    assert count[0] <= 10, f"{count[0]} transactions for 40 deliveries"


def test_the_engine_settings_keep_the_lease_longer_than_an_attempt_and_its_flush() -> None:
    with pytest.raises(ValueError, match="lease_s must be longer"):
        EngineSettings(lease_s=1.0)
    with pytest.raises(ValueError, match="settle_delay_s"):
        EngineSettings(settle_delay_s=0.5)
    with pytest.raises(ValueError, match="must be positive"):
        EngineSettings(settle_batch=0)


# ---- routes: one refresh per claim, no database per attempt ---------------------------------


async def test_a_claim_refreshes_its_targets_once_for_the_whole_batch(
    store: Store, receiver: FakeCarrier
) -> None:
    book = Book()
    book.add("c1", receiver.url())
    book.add("c2", receiver.url())
    for n in range(3):
        await enqueue(store, "c1", f"P-{n}", 1)
        await enqueue(store, "c2", f"P-{n}", 1)
    async with make_engine(store, book) as engine:
        assert await engine.run_once() == 6
    assert book.refreshed == [{(TargetKind.CONNECTOR, "c1"), (TargetKind.CONNECTOR, "c2")}]


def refuse_transactions(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused() -> Any:
        raise AssertionError("the route was looked up in the database")

    monkeypatch.setattr(store, "transaction", refused)


@pytest.mark.parametrize("kind", [TargetKind.CONNECTOR, TargetKind.WEBHOOK])
async def test_a_refreshed_route_is_answered_from_memory_until_disabled_here(
    store: Store, receiver: FakeCarrier, monkeypatch: pytest.MonkeyPatch, kind: TargetKind
) -> None:
    book: AttachmentRoutes | WebhookRoutes
    if kind is TargetKind.CONNECTOR:
        await add_attachment(store, "t1", receiver.url(), connector="cloudevents")
        # A long TTL: on a loaded host the second call may come 2 s (the default) after the
        # refresh, and the test is about memory, not about the TTL.
        book = AttachmentRoutes(store=store, defaults=FAST, ttl_s=60)
    else:
        await add_subscription(store, "t1", receiver.url())
        book = WebhookRoutes(store=store, sign=lambda _: "sig", policy=FAST, ttl_s=60)
    async with store.transaction() as tx:
        await book.refresh(tx, [(kind, "t1")])

    refuse_transactions(store, monkeypatch)
    route = await book.route(kind, "t1")
    assert route is not None
    again = await book.route(kind, "t1")
    assert again is not None
    assert again.connector is route.connector  # built once, kept
    # This instance disabled it (410 Gone): no route from now on, without asking.
    book.disabled(kind, "t1")
    assert await book.route(kind, "t1") is None


@pytest.mark.parametrize("kind", [TargetKind.CONNECTOR, TargetKind.WEBHOOK])
async def test_a_target_disabled_elsewhere_gets_no_row_claimed_after_the_disable(
    store: Store, receiver: FakeCarrier, kind: TargetKind
) -> None:
    clock = MovableClock()
    book: AttachmentRoutes | WebhookRoutes
    if kind is TargetKind.CONNECTOR:
        await add_attachment(store, "t1", receiver.url(), connector="cloudevents")
        book = AttachmentRoutes(store=store, defaults=FAST)
    else:
        await add_subscription(store, "t1", receiver.url())
        book = WebhookRoutes(store=store, sign=lambda _: "sig", policy=FAST)

    async def deliver_one(parcel: str) -> None:
        await enqueue(store, "t1", parcel, 1, kind=kind, at=clock())
        async with make_engine(store, book, clock=clock) as engine:
            assert await engine.run_once() == 1

    async def set_active(active: bool) -> None:
        # Another instance, or the CLI: nothing this process's routes hear of.
        clock.advance(1)
        async with store.transaction() as tx:
            if kind is TargetKind.CONNECTOR:
                reason = None if active else "maintenance"
                await tx.connector_attachments.set_active("t1", active, at=clock(), reason=reason)
            else:  # a subscription is never enabled again
                await tx.webhooks.deactivate("acme", "t1", clock())

    await deliver_one("P-1")  # the route is now in memory
    await set_active(False)
    await deliver_one("P-2")
    assert len(receiver.received) == 1
    gone = [d for d in await rows(store, "t1", kind) if d.parcel_uid == "P-2"]
    assert [(d.state, d.last_error) for d in gone] == [
        (DeliveryState.DEAD, f"the {kind} target t1 is gone")
    ]
    if kind is TargetKind.CONNECTOR:
        # Enabled again: the next claim sees it too (no "gone" remembered).
        await set_active(True)
        await deliver_one("P-3")
        assert len(receiver.delivered()) == 2


# ---- waking up ----------------------------------------------------------------------------


async def test_the_store_calls_its_listener_after_commits_that_queue_rows(store: Store) -> None:
    calls: list[int] = []

    def listener() -> None:
        calls.append(1)

    store.on_outbox_due(listener)
    await enqueue(store, "c1", "P-1", 1)
    assert calls == [1]
    with contextlib.suppress(RuntimeError):
        async with store.transaction() as tx:
            await enqueue_in(tx, "P-2")
            raise RuntimeError("the transition failed")
    assert [d.parcel_uid for d in await rows(store, "c1")] == ["P-1"]
    assert calls == [1], "a rolled-back row woke the engine"
    async with store.transaction() as tx:
        await tx.outbox.page("c1", kind=TargetKind.CONNECTOR)
    assert calls == [1], "a transaction that queued nothing woke the engine"
    store.on_outbox_due(None)
    await enqueue(store, "c1", "P-3", 1)
    assert calls == [1]


async def enqueue_in(tx: UnitOfWork, parcel: str) -> None:
    body = event_body(parcel, 1)
    new = NewDelivery(f"{parcel}/1", "c1", CARRIER, parcel, 1, "parcel.reserved", body)
    await tx.outbox.enqueue(new, at=T0)


async def test_a_woken_engine_sends_a_new_row_long_before_its_poll(
    store: Store, receiver: FakeCarrier
) -> None:
    book = Book()
    book.add("c1", receiver.url())
    engine = make_engine(store, book, poll_interval_s=30)
    store.on_outbox_due(engine.wake)
    async with running(engine):
        await asyncio.sleep(0.2)  # the engine found nothing and waits for its 30 s poll
        started = time.perf_counter()
        await enqueue(store, "c1", "P-1", 1)
        await receiver.wait_for(1, patience_s=5)
        took = time.perf_counter() - started
        await settled(store, "c1", 1, patience_s=5)
    assert took < 2.0, f"{took:.2f} s: the commit did not wake the engine"


async def test_a_gateway_delivers_a_transition_long_before_its_poll(
    database_url: str, receiver: FakeCarrier
) -> None:
    # The composition root wires the store's commits to the engine: a 30 s poll never shows.
    async with gateway_running(database_url, receiver, webhook_poll_interval_s=30) as hooks:
        sub = await hooks.subscribe()
        await asyncio.sleep(0.2)  # the engine's first look found nothing; it waits for 30 s
        started = time.perf_counter()
        await hooks.book("WAKE-1")  # announced and reserved, in one transaction
        await receiver.wait_for(2, patience_s=5)
        took = time.perf_counter() - started
        await hooks.settled(sub["id"], 2)
    assert took < 2.0, f"{took:.2f} s: the transition's commit did not wake the engine"
    assert [r.json()["type"] for r in receiver.delivered()] == [
        "parcel.announced",
        "parcel.reserved",
    ]
