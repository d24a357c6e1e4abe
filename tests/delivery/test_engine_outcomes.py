"""What one attempt's outcome does to its row: dead, skipped, retried, Retry-After, 401, 410."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import ssl
from collections.abc import AsyncIterator
from datetime import timedelta
from email.utils import format_datetime
from typing import ClassVar

import httpx
import pytest
import respx
from aiohttp import web

from gateway.delivery.routes import DeliveryPolicy, Route, TargetKind
from gateway.delivery.transports.http import HttpTransport
from gateway.domain.audit import AuditAction
from gateway.domain.webhooks import DeliveryState
from gateway.sdk.connectors import (
    AccessInfo,
    Capability,
    ConnectorEvent,
    HttpRequest,
    MappingError,
    Outbound,
)
from gateway.store import Store
from tests.delivery.engine_support import (
    FAST,
    Book,
    ProbeConfig,
    ProbeConnector,
    TokenAuth,
    add_attachment,
    add_subscription,
    enqueue,
    make_engine,
    rows,
)
from tests.support.clock import MovableClock
from tests.support.loopback import LOOPBACK
from tests.webhooks.conftest import FakeCarrier

URL = "https://carrier.example/events"


@pytest.fixture
async def receiver() -> AsyncIterator[FakeCarrier]:
    async with FakeCarrier() as carrier:
        yield carrier


async def test_a_mapping_error_is_dead_at_once(store: Store, receiver: FakeCarrier) -> None:
    book = Book()
    book.add("c1", receiver.url())
    await enqueue(store, "c1", "UNMAPPABLE-1", 1)

    async with make_engine(store, book) as engine:
        assert await engine.run_once() == 1
        assert await engine.run_once() == 0

    (row,) = await rows(store, "c1")
    assert (row.state, row.attempts) == (DeliveryState.DEAD, 1)
    assert row.last_error == "no status code for this parcel (at /parcel/parcelId)"
    assert row.next_attempt_at is None
    assert receiver.received == []


async def test_a_skipped_event_is_settled_without_sending(
    store: Store, receiver: FakeCarrier
) -> None:
    book = Book()
    book.add("c1", receiver.url())
    await enqueue(store, "c1", "P-1", 1, event_type="parcel.cancelled")
    await enqueue(store, "c1", "P-1", 2)  # waits behind the first until it is settled

    async with make_engine(store, book) as engine:
        await engine.run_once()
        await engine.run_once()

    first, second = await rows(store, "c1")
    assert (first.state, first.last_error) == (
        DeliveryState.SKIPPED,
        "cancellations are not sent to this carrier",
    )
    assert second.state == DeliveryState.DELIVERED
    assert [r.event_id for r in receiver.received] == ["P-1/2"]


async def test_a_connector_bug_is_retried_and_the_engine_goes_on(
    store: Store, receiver: FakeCarrier, caplog: pytest.LogCaptureFixture
) -> None:
    book = Book()
    book.add("c1", receiver.url())
    await enqueue(store, "c1", "EXPLODE-1", 1)
    await enqueue(store, "c1", "P-2", 1)

    with caplog.at_level(logging.INFO, logger="gateway.delivery"):
        async with make_engine(store, book) as engine:
            assert await engine.run_once() == 2

    exploded, fine = await rows(store, "c1")
    assert (exploded.state, exploded.attempts) == (DeliveryState.PENDING, 1)
    assert exploded.last_error == "connector probe failed: RuntimeError"
    assert exploded.next_attempt_at is not None
    assert fine.state == DeliveryState.DELIVERED
    assert "EXPLODE-1/1" in caplog.text  # the event id is logged...
    assert "ada@example.org" not in caplog.text  # ...but not what the exception said


async def test_a_missing_transport_fails_the_row_clearly(store: Store) -> None:
    book = Book()
    book.add("c1", "http://127.0.0.1:9/unused")
    await enqueue(store, "c1", "MQTT-1", 1)

    async with make_engine(store, book) as engine:
        await engine.run_once()

    (row,) = await rows(store, "c1")
    assert row.state == DeliveryState.PENDING
    assert row.last_error == "no transport for MqttPublish in this gateway"


async def test_a_target_without_a_route_is_dead(store: Store) -> None:
    await enqueue(store, "nowhere", "P-1", 1)

    async with make_engine(store, Book()) as engine:
        await engine.run_once()

    (row,) = await rows(store, "nowhere")
    assert row.state == DeliveryState.DEAD
    assert row.last_error == "the connector target nowhere is gone"


class BrokenBook(Book):
    async def route(self, kind: TargetKind, target_id: str) -> Route | None:
        raise OSError("secret file missing")


async def test_a_route_that_cannot_be_built_is_a_failed_attempt(store: Store) -> None:
    await enqueue(store, "c1", "P-1", 1)

    async with make_engine(store, BrokenBook()) as engine:
        await engine.run_once()

    (row,) = await rows(store, "c1")
    assert (row.state, row.attempts) == (DeliveryState.PENDING, 1)
    assert row.last_error == "the connector target c1 has no route: OSError"
    assert row.next_attempt_at is not None


@pytest.mark.parametrize("refreshable", [True, False])
async def test_401_asks_the_plugin_and_retries_once_with_fresh_credentials(
    store: Store, refreshable: bool
) -> None:
    auth = TokenAuth(refreshable=refreshable)
    book = Book()
    book.add("c1", URL, auth=auth)
    await enqueue(store, "c1", "P-1", 1)

    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(URL).mock(side_effect=[httpx.Response(401), httpx.Response(204)])
        async with make_engine(store, book) as engine:
            await engine.run_once()

    (row,) = await rows(store, "c1")
    assert auth.refused == 1
    assert row.attempts == 1
    tokens = [call.request.headers["authorization"] for call in route.calls]
    if refreshable:
        assert tokens == ["Bearer token-1", "Bearer token-2"]
        assert (row.state, row.last_status) == (DeliveryState.DELIVERED, 204)
    else:
        assert tokens == ["Bearer token-1"]
        assert (row.state, row.last_status, row.last_error) == (
            DeliveryState.PENDING,
            401,
            "HTTP 401",
        )


@pytest.mark.parametrize(
    ("status", "retry_after", "expected_s"),
    [
        (429, "30", 30),
        (503, "120", 120),
        (429, "http-date:90", 90),
        (503, "http-date:-90", None),  # in the past: the normal back-off
        (429, "99999", 600),  # capped by backoff_cap_s
        (503, "soon", None),  # unreadable: the normal back-off
    ],
)
async def test_429_and_503_honour_retry_after(
    store: Store, status: int, retry_after: str, expected_s: int | None
) -> None:
    clock = MovableClock()
    policy = DeliveryPolicy(max_attempts=5, backoff_base_s=1.0, backoff_cap_s=600.0)
    book = Book()
    book.add("c1", URL, policy=policy)
    await enqueue(store, "c1", "P-1", 1)
    if retry_after.startswith("http-date:"):
        when = clock() + timedelta(seconds=int(retry_after.split(":")[1]))
        retry_after = format_datetime(when.replace(microsecond=0), usegmt=True)

    with respx.mock() as mock:
        mock.post(URL).mock(
            return_value=httpx.Response(status, headers={"Retry-After": retry_after})
        )
        async with make_engine(store, book, clock=clock) as engine:
            before = clock()
            await engine.run_once()

    (row,) = await rows(store, "c1")
    assert (row.state, row.last_status) == (DeliveryState.PENDING, status)
    assert row.next_attempt_at is not None
    wait = (row.next_attempt_at - before).total_seconds()
    if expected_s is None:
        assert 0.5 <= wait <= 1.5  # attempt 1: equal jitter within [base/2, base]
    else:
        assert expected_s - 1.5 <= wait <= expected_s + 1.5


async def test_a_slow_receiver_times_out(store: Store, receiver: FakeCarrier) -> None:
    receiver.on().delay_s = 1.0
    book = Book()
    book.add("c1", receiver.url(), policy=DeliveryPolicy(timeout_s=0.3))
    await enqueue(store, "c1", "P-1", 1)

    started = asyncio.get_running_loop().time()
    async with make_engine(store, book) as engine:
        await engine.run_once()
    took = asyncio.get_running_loop().time() - started

    (row,) = await rows(store, "c1")
    assert (row.state, row.last_status) == (DeliveryState.PENDING, None)
    assert row.last_error == "no answer within 0.3 s"
    assert took < 0.9


async def test_a_slow_answer_body_is_never_waited_for(store: Store) -> None:
    """The status is the answer; a receiver trickling its body cannot hold the attempt."""

    async def trickle(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(status=200)
        await response.prepare(request)
        for _ in range(50):
            await response.write(b"x")
            await asyncio.sleep(0.1)
        return response

    app = web.Application()
    app.router.add_post("/slow-body", trickle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        book = Book()
        book.add("c1", f"http://127.0.0.1:{port}/slow-body", policy=DeliveryPolicy(timeout_s=2))
        await enqueue(store, "c1", "P-1", 1)
        started = asyncio.get_running_loop().time()
        async with make_engine(store, book) as engine:
            await engine.run_once()
        took = asyncio.get_running_loop().time() - started
    finally:
        await runner.cleanup()

    (row,) = await rows(store, "c1")
    assert (row.state, row.last_status) == (DeliveryState.DELIVERED, 200)
    assert took < 1.5


async def test_an_attempt_never_outlives_its_lease(store: Store, receiver: FakeCarrier) -> None:
    receiver.on().delay_s = 3.0
    book = Book()
    book.add("c1", receiver.url(), policy=DeliveryPolicy(timeout_s=10))
    await enqueue(store, "c1", "P-1", 1)

    async with make_engine(store, book, lease_s=1.5) as engine:
        await engine.run_once()

    (row,) = await rows(store, "c1")
    assert row.last_error == "the attempt outlasted its lease"


@pytest.mark.parametrize("kind", [TargetKind.CONNECTOR, TargetKind.WEBHOOK])
async def test_410_disables_the_target_audits_and_kills_its_pending_rows(
    store: Store, receiver: FakeCarrier, kind: TargetKind, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.on().always_fail = True
    receiver.on().fail_status = 410
    if kind is TargetKind.CONNECTOR:
        await add_attachment(store, "t1", receiver.url())
    else:
        await add_subscription(store, "t1", receiver.url())
    book = Book()
    book.add("t1", receiver.url(), kind=kind)
    for seq in (1, 2, 3):
        await enqueue(store, "t1", "P-1", seq, kind=kind)

    with caplog.at_level(logging.WARNING, logger="gateway.delivery"):
        async with make_engine(store, book) as engine:
            await engine.run_once()
            assert await engine.run_once() == 0

    assert len(receiver.received) == 1
    first, *others = await rows(store, "t1", kind)
    reason = f"the endpoint answered 410 Gone: {kind} t1 was disabled"
    assert (first.state, first.last_status, first.last_error) == (DeliveryState.DEAD, 410, reason)
    assert [(d.state, d.last_error) for d in others] == [(DeliveryState.DEAD, reason)] * 2
    async with store.transaction() as tx:
        if kind is TargetKind.CONNECTOR:
            attachment = await tx.connector_attachments.get("t1")
            assert attachment is not None
            assert (attachment.active, attachment.disabled_reason) == (False, reason)
        else:
            sub = await tx.webhooks.find("t1")
            assert sub is not None
            assert not sub.active
            assert sub.deactivated_at is not None
        (entry,) = await tx.audit.latest(10, action=AuditAction.DELIVERY_TARGET_DISABLED.value)
    assert (entry.actor, entry.subject) == ("gateway:test", f"{kind}:t1")
    assert entry.details["status"] == 410
    assert entry.details["pendingGivenUp"] == 2
    assert f"{kind} t1 of carrier acme answered 410 Gone" in caplog.text


async def test_rows_of_a_policy_with_few_attempts_go_dead(
    store: Store, receiver: FakeCarrier
) -> None:
    receiver.on().always_fail = True
    clock = MovableClock()
    book = Book()
    book.add("c1", receiver.url(), policy=DeliveryPolicy(max_attempts=2, backoff_cap_s=1))
    await enqueue(store, "c1", "P-1", 1)

    async with make_engine(store, book, clock=clock) as engine:
        await engine.run_once()
        clock.advance(2)
        await engine.run_once()
        clock.advance(2)
        assert await engine.run_once() == 0

    (row,) = await rows(store, "c1")
    assert (row.state, row.attempts, row.last_error) == (DeliveryState.DEAD, 2, "HTTP 500")
    assert FAST.max_attempts > 2  # the default used elsewhere keeps retrying


async def test_a_redirect_is_a_failed_attempt_never_followed(store: Store) -> None:
    book = Book()
    book.add("c1", URL)
    await enqueue(store, "c1", "P-1", 1)

    with respx.mock(assert_all_called=False) as mock:
        moved = mock.post(URL).mock(
            return_value=httpx.Response(307, headers={"Location": "https://elsewhere.example/"})
        )
        elsewhere = mock.post("https://elsewhere.example/").mock(return_value=httpx.Response(204))
        async with make_engine(store, book) as engine:
            await engine.run_once()

    (row,) = await rows(store, "c1")
    assert (row.state, row.last_status, row.last_error) == (DeliveryState.PENDING, 307, "HTTP 307")
    assert (moved.call_count, elsewhere.call_count) == (1, 0)


async def test_one_client_per_tls_identity() -> None:
    context = ssl.create_default_context()
    async with HttpTransport(allow_private=LOOPBACK) as transport:
        plain = transport._client(None)
        assert transport._client(None) is plain
        mutual = transport._client(context)
        assert mutual is not plain
        assert transport._client(context) is mutual
        assert transport._client(ssl.create_default_context()) not in (plain, mutual)


class NotifierProbe(ProbeConnector):
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.OUTBOUND_EVENTS, Capability.RECIPIENT_NOTIFICATIONS}
    )

    def render(self, event: ConnectorEvent) -> Outbound:
        if event.access is None or event.access.code is None:
            raise MappingError("no pickup code to send", pointer="/access/code")
        request = super().render(event)
        assert isinstance(request, HttpRequest)
        return dataclasses.replace(request, body=event.access.code.encode())


async def test_notifiers_get_a_pickup_credential_just_before_rendering(
    store: Store, receiver: FakeCarrier
) -> None:
    asked: list[tuple[str, str]] = []

    async def access(event: ConnectorEvent, route: Route) -> ConnectorEvent:
        asked.append((event.event_id, route.target_id))
        return event.model_copy(update={"access": AccessInfo(code="482913")})

    book = Book()
    book.add("plain", receiver.url("/plain"))
    notifier = book.add("notify", receiver.url("/notify"))
    book.routes[TargetKind.CONNECTOR, "notify"] = dataclasses.replace(
        notifier, connector=NotifierProbe(config=ProbeConfig(url=receiver.url("/notify")))
    )
    await enqueue(store, "plain", "P-1", 1)
    await enqueue(store, "notify", "P-1", 1)

    async with make_engine(store, book, access=access) as engine:
        await engine.run_once()

    assert asked == [("P-1/1", "notify")]  # only for the notifier
    assert [r.body for r in receiver.delivered("/notify")] == [b"482913"]
    assert len(receiver.delivered("/plain")) == 1
