"""The engine under load: parcel order, two instances, circuit breaker, rate limit."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator

import pytest

from gateway.delivery.breaker import Breaker, BreakerState
from gateway.delivery.routes import DeliveryPolicy, Route, TargetKind
from gateway.domain.webhooks import DeliveryState
from gateway.store import Store
from tests.delivery.engine_support import Book, enqueue, make_engine, rows, running, settled
from tests.support.clock import MovableClock
from tests.webhooks.conftest import FakeCarrier, Received


@pytest.fixture
async def receiver() -> AsyncIterator[FakeCarrier]:
    async with FakeCarrier() as carrier:
        yield carrier


def by_parcel(received: list[Received]) -> dict[str, list[int]]:
    seqs: dict[str, list[int]] = defaultdict(list)
    for request in received:
        body = request.json()
        seqs[body["parcelId"]].append(body["seq"])
    return seqs


async def test_parcels_go_in_parallel_and_each_parcel_in_order(
    store: Store, receiver: FakeCarrier
) -> None:
    receiver.on().delay_s = 0.1
    receiver.on().fail_next = 4  # a few failures reorder nothing
    book = Book()
    book.add("c1", receiver.url())
    for seq in range(1, 6):
        for n in range(20):
            await enqueue(store, "c1", f"P-{n:02d}", seq)

    started = time.perf_counter()
    async with running(make_engine(store, book, max_in_flight=16)):
        await receiver.wait_for(100, patience_s=30)
    took = time.perf_counter() - started

    delivered = by_parcel(receiver.delivered())
    assert len(delivered) == 20
    assert all(seqs == [1, 2, 3, 4, 5] for seqs in delivered.values()), delivered
    # One at a time would take 100 x 100 ms; parcels in parallel take a fraction of it.
    assert took < 5.0, f"{took:.2f} s: parcels did not go out in parallel"


async def test_two_instances_never_send_one_row_at_the_same_time(
    database_url: str, receiver: FakeCarrier
) -> None:
    receiver.on().delay_s = 0.02
    stores = [Store.connect(database_url), Store.connect(database_url)]
    try:
        await stores[0].migrate()
        book = Book()
        book.add("c1", receiver.url())
        for seq in (1, 2, 3):
            for n in range(15):
                await enqueue(stores[0], "c1", f"P-{n:02d}", seq)
        engines = [make_engine(s, book, max_in_flight=8) for s in stores]
        async with running(engines[0]), running(engines[1]):
            await receiver.wait_for(45, patience_s=30)
            # Every row settled after one claim (attempts counts claims, asserted below): no
            # engine sent a row twice, and a settled row is never claimed again.
            items = await settled(stores[0], "c1", 45)
    finally:
        for store in stores:
            await store.close()

    counts = Counter(r.event_id for r in receiver.received)
    assert len(counts) == 45
    assert set(counts.values()) == {1}, "a row was sent twice"
    assert all(seqs == [1, 2, 3] for seqs in by_parcel(receiver.received).values())
    assert {d.attempts for d in items} == {1}


def state_of(breaker: Breaker) -> BreakerState:
    return breaker.state  # a call, so that mypy does not carry one narrowing to the next


def test_the_breaker_opens_probes_once_and_closes() -> None:
    clock = MovableClock()
    breaker = Breaker(failures=3, reset_s=10)
    assert breaker.admit(clock())
    assert not breaker.failed(clock())
    assert not breaker.failed(clock())
    assert breaker.failed(clock())  # the third in a row opens it
    assert not breaker.admit(clock())
    clock.advance(10)
    assert breaker.admit(clock())  # the probe
    assert state_of(breaker) is BreakerState.HALF_OPEN
    assert not breaker.admit(clock())  # only one probe at a time
    assert breaker.failed(clock())  # the probe failed: open again for a full period
    clock.advance(9)
    assert not breaker.admit(clock())
    clock.advance(1)
    assert breaker.admit(clock())
    breaker.succeeded()
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.admit(clock())
    assert breaker.admit(clock())


def test_a_probe_that_got_no_answer_lets_the_next_attempt_probe() -> None:
    clock = MovableClock()
    breaker = Breaker(failures=1, reset_s=10)
    breaker.failed(clock())
    clock.advance(10)
    assert breaker.admit(clock())
    assert not breaker.admit(clock())
    breaker.abandoned()  # e.g. the probe's event was skipped by the connector
    assert breaker.admit(clock())


async def test_an_open_circuit_holds_rows_back_without_spending_attempts(
    store: Store, receiver: FakeCarrier
) -> None:
    receiver.on().always_fail = True
    policy = DeliveryPolicy(
        max_attempts=100,
        backoff_base_s=0.01,
        backoff_cap_s=0.02,
        breaker_failures=3,
        breaker_reset_s=0.6,
    )
    book = Book()
    book.add("c1", receiver.url(), policy=policy)
    for n in range(3):
        await enqueue(store, "c1", f"P-{n}", 1)

    async with running(make_engine(store, book)):
        await receiver.wait_for_attempts(3)
        opened = time.time()
        await asyncio.sleep(1.5)  # without a breaker: ~50 retries per row by now
        failing = list(receiver.received)
        receiver.on().always_fail = False
        await receiver.wait_for(3, patience_s=5)
        items = await settled(store, "c1", 3)

    later = [r.at for r in failing if r.at > opened + 0.05]
    # While open: one probe per reset period, each one failing and re-opening the circuit.
    assert 1 <= len(later) <= 3, [round(t - opened, 2) for t in later]
    assert all(b - a >= 0.5 for a, b in itertools.pairwise(later))
    assert all(d.state == DeliveryState.DELIVERED for d in items)
    # Held-back rows kept their attempts: 3 failures and the probes, not dozens.
    assert sum(d.attempts for d in items) <= 3 + len(later) + 3


async def test_the_rate_limit_bounds_throughput(store: Store, receiver: FakeCarrier) -> None:
    book = Book()
    book.add("c1", receiver.url(), policy=DeliveryPolicy(rate_per_s=10, rate_burst=2))
    book.add("c2", receiver.url("/free"))
    for n in range(20):
        await enqueue(store, "c1", f"P-{n:02d}", 1)
        await enqueue(store, "c2", f"Q-{n:02d}", 1)

    started = time.time()
    async with running(make_engine(store, book)):
        await receiver.wait_for(20, path="/free", patience_s=10)
        free_done = time.time() - started
        await receiver.wait_for(40, patience_s=20)
    items = await rows(store, "c1")

    limited = sorted(r.at - started for r in receiver.delivered("/hooks"))
    # A burst of 2, then 10 per second: the 20th cannot come before ~1.8 s.
    assert limited[-1] >= 1.6, limited
    # Times are arrivals at the receiver, on the same loop: a loaded host delays some and
    # bunches them, so a window may hold a few more than the bucket lets out (without the
    # limit, all 20 arrive within a fraction of a second).
    for start in limited:
        assert sum(1 for t in limited if start <= t < start + 1.0) <= 10 + 2 + 3
    assert free_done < limited[-1]  # another target does not wait for the limited one
    assert {d.attempts for d in items} == {1}  # waiting for the budget spends no attempt


class StallingBook(Book):
    """Looking the route up takes longer than the lease (a database stall, a paused VM)."""

    def __init__(self, clock: MovableClock, stall_s: float) -> None:
        super().__init__()
        self.clock = clock
        self.stall_s = stall_s
        self.stalled = 0

    async def route(self, kind: TargetKind, target_id: str) -> Route | None:
        if self.stalled == 0:
            self.stalled += 1
            self.clock.advance(self.stall_s)
        return await super().route(kind, target_id)


async def test_an_attempt_whose_lease_ran_out_sends_nothing(
    store: Store, receiver: FakeCarrier
) -> None:
    # Once the lease has ended another instance may have claimed the row and sent it, and
    # the parcel's next event after it; a late send would then arrive out of order.
    clock = MovableClock()
    book = StallingBook(clock, stall_s=30.0)
    book.add("c1", receiver.url())
    await enqueue(store, "c1", "P-LATE", 1, at=clock())

    engine = make_engine(store, book, clock=clock, lease_s=10.0)
    async with engine:
        assert await engine.run_once() == 1

    assert receiver.received == []
    (row,) = await rows(store, "c1")
    # Our stall, not the endpoint's failure: the row is simply due again, no attempt spent.
    assert row.state is DeliveryState.PENDING
    assert row.attempts == 0
    assert row.last_error is None
