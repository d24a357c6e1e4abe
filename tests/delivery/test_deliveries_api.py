"""GET /v1/deliveries and POST /v1/deliveries/{id}/replay: every target of a carrier, one view."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from gateway.domain.delivery import AttachmentSource, TargetKind
from gateway.sdk.connectors.samples import sample_event
from gateway.service.connectors import NewAttachment
from gateway.store import ConnectorAttachmentRecord, NewDelivery
from gateway.wire import dump
from tests.webhooks.conftest import FakeCarrier, Hooks, running

DELIVERIES = "/v1/deliveries"


@pytest.fixture
async def receiver() -> AsyncIterator[FakeCarrier]:
    async with FakeCarrier() as carrier:
        yield carrier


@pytest.fixture
async def hooks(database_url: str, receiver: FakeCarrier) -> AsyncIterator[Hooks]:
    async with running(database_url, receiver) as opened:
        yield opened


async def listing(hooks: Hooks, *, carrier: Any = None, **params: Any) -> list[dict[str, Any]]:
    answer = await hooks.site.get(DELIVERIES, carrier=carrier, **params)
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    hooks.site.spec.validate("delivery-list", page)
    items: list[dict[str, Any]] = page["items"]
    return items


async def until(hooks: Hooks, wanted: int, **params: Any) -> list[dict[str, Any]]:
    """The listing once it has `wanted` rows and none of them is pending any more."""
    async with asyncio.timeout(10):
        while True:
            items = await listing(hooks, **params)
            if len(items) == wanted and all(d["state"] != "pending" for d in items):
                return items
            await asyncio.sleep(0.02)


async def attach(hooks: Hooks, attachment_id: str, carrier_id: str = "acme") -> None:
    """A connector attachment row, as the settings file or the CLI would leave it."""
    now = datetime.now(UTC)
    record = ConnectorAttachmentRecord(
        id=attachment_id,
        carrier_id=carrier_id,
        connector="standard-webhooks",
        config={"url": "http://127.0.0.1:9/never"},
        # No parcel in these tests is returned: the rows of an attachment are the test's own.
        events=("parcel.returned",),
        source=AttachmentSource.CLI,
        created_at=now,
        updated_at=now,
    )
    async with hooks.site.gateway.store.transaction() as tx:
        await tx.connector_attachments.add(record)


async def dead_connector_row(
    hooks: Hooks, attachment_id: str, parcel_id: str, carrier_id: str = "acme"
) -> None:
    """A connector delivery that already went dead (its reason as the engine would write it)."""
    body = dump(sample_event(carrier_id=carrier_id, recipient=False))
    body["parcel"]["parcelId"] = parcel_id
    new = NewDelivery(
        event_id=str(uuid.uuid4()),
        target_id=attachment_id,
        carrier_id=carrier_id,
        parcel_uid=f"uid-{parcel_id}",
        parcel_seq=1,
        type=body["type"],
        body=body,
        target_kind=TargetKind.CONNECTOR,
    )
    async with hooks.site.gateway.store.transaction() as tx:
        assert await tx.outbox.enqueue(new, at=datetime.now(UTC))
        await tx.outbox.kill_pending(attachment_id, "HTTP 503", kind=TargetKind.CONNECTOR)


async def replay(
    hooks: Hooks, delivery_id: int | str, *, key: str | None = None, carrier: Any = None
) -> httpx.Response:
    path = f"{DELIVERIES}/{delivery_id}/replay"
    return await hooks.site.post(path, {}, key=key or f"replay-{uuid.uuid4().hex}", carrier=carrier)


def problem(hooks: Hooks, answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    hooks.site.spec.validate("problem", body)
    assert body["code"] == code, body
    return body


async def test_lists_every_target_of_the_carrier(hooks: Hooks, receiver: FakeCarrier) -> None:
    first = await hooks.subscribe(receiver.url("/one"))
    second = await hooks.subscribe(receiver.url("/two"))
    await hooks.book("DLV-ALL-1", reserve=False)
    await attach(hooks, "acme-sw")
    await dead_connector_row(hooks, "acme-sw", "DLV-ALL-2")
    items = await until(hooks, 3)
    assert [(d["targetKind"], d["targetId"], d["state"]) for d in items] == [
        ("webhook", first["id"], "delivered"),
        ("webhook", second["id"], "delivered"),
        ("connector", "acme-sw", "dead"),
    ]
    webhook, _, connector = items
    assert (webhook["parcelId"], webhook["type"]) == ("DLV-ALL-1", "parcel.announced")
    assert webhook["lastStatus"] == 204
    assert webhook["deliveredAt"] is not None
    assert (connector["parcelId"], connector["lastError"]) == ("DLV-ALL-2", "HTTP 503")
    # The per-webhook view still lists the same row.
    old = (await hooks.site.get(f"/v1/webhooks/{first['id']}/deliveries")).json()["items"]
    assert [d["id"] for d in old] == [webhook["id"]]


async def test_filters_by_state_and_target(hooks: Hooks, receiver: FakeCarrier) -> None:
    sub = await hooks.subscribe()
    await hooks.book("DLV-F-1", reserve=False)
    await attach(hooks, "acme-a")
    await attach(hooks, "acme-b")
    await dead_connector_row(hooks, "acme-a", "DLV-F-2")
    await dead_connector_row(hooks, "acme-b", "DLV-F-3")
    await until(hooks, 3)
    dead = await listing(hooks, state="dead")
    assert [d["targetId"] for d in dead] == ["acme-a", "acme-b"]
    assert [d["parcelId"] for d in await listing(hooks, target="acme-b")] == ["DLV-F-3"]
    assert [d["parcelId"] for d in await listing(hooks, target=sub["id"])] == ["DLV-F-1"]
    assert await listing(hooks, target=sub["id"], state="dead") == []
    assert await listing(hooks, state="skipped") == []
    assert await listing(hooks, target="nobody") == []


async def test_pages_oldest_first(hooks: Hooks, receiver: FakeCarrier) -> None:
    await hooks.subscribe()
    await attach(hooks, "acme-p")
    for n in range(3):
        await hooks.book(f"DLV-PAGE-{n}", reserve=False)
        await dead_connector_row(hooks, "acme-p", f"DLV-PAGE-C{n}")
    everything = await until(hooks, 6)
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 4} | ({"cursor": cursor} if cursor else {})
        page = (await hooks.site.get(DELIVERIES, **params)).json()
        hooks.site.spec.validate("delivery-list", page)
        seen += [d["id"] for d in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 2
    assert seen == [d["id"] for d in everything] == sorted(seen)


async def test_another_carriers_deliveries_are_invisible(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    globex = hooks.site.globex
    await hooks.subscribe()
    await hooks.book("DLV-ISO-1", reserve=False)
    await attach(hooks, "globex-sw", carrier_id="globex")
    await dead_connector_row(hooks, "globex-sw", "DLV-ISO-2", carrier_id="globex")
    (acme_row,) = await until(hooks, 1)
    (globex_row,) = await listing(hooks, carrier=globex)
    assert (globex_row["targetId"], globex_row["parcelId"]) == ("globex-sw", "DLV-ISO-2")
    assert await listing(hooks, carrier=globex, target=acme_row["targetId"]) == []
    assert await listing(hooks, target="globex-sw") == []
    # Replaying another carrier's delivery: as if it did not exist, and it stays dead.
    problem(hooks, await replay(hooks, globex_row["id"]), 404, "NotFound")
    problem(hooks, await replay(hooks, acme_row["id"], carrier=globex), 404, "NotFound")
    (still,) = await listing(hooks, carrier=globex)
    assert still["state"] == "dead"


async def test_replayed_dead_letter_reaches_the_carrier(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    sub = await hooks.subscribe()
    receiver.on().always_fail = True
    await hooks.book("DLV-REPLAY-1", reserve=False)
    (dead,) = await until(hooks, 1)
    assert (dead["state"], dead["attempts"], dead["lastStatus"]) == ("dead", 4, 500)
    assert receiver.delivered() == []

    receiver.on().always_fail = False
    answer = await replay(hooks, dead["id"], key="replay-dead-1")
    assert answer.status_code == 200, answer.text
    pending = answer.json()
    hooks.site.spec.validate("delivery", pending)
    assert (pending["id"], pending["eventId"]) == (dead["id"], dead["eventId"])
    assert (pending["state"], pending["attempts"], pending["targetId"]) == ("pending", 0, sub["id"])

    await receiver.wait_for(1)
    (arrived,) = receiver.delivered()
    assert arrived.event_id == dead["eventId"]  # the same event: the carrier can dedupe
    assert arrived.json()["parcel"]["parcelId"] == "DLV-REPLAY-1"
    (done,) = await until(hooks, 1)
    assert (done["state"], done["attempts"]) == ("delivered", 1)

    # The same key again answers what it answered first, and requeues nothing.
    again = await replay(hooks, dead["id"], key="replay-dead-1")
    assert (again.status_code, again.json()) == (200, pending)
    # A requeue would show at once (pending, attempts 0): the row stays as it was settled.
    (row,) = await listing(hooks)
    assert (row["state"], row["attempts"]) == ("delivered", 1)
    assert len(receiver.delivered()) == 1
    # A new key on a delivered row: refused.
    body = problem(hooks, await replay(hooks, dead["id"]), 409, "IllegalTransition")
    assert "delivered" in body["detail"]


async def test_replay_is_refused_while_the_row_is_not_dead(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    await hooks.subscribe()
    receiver.on().delay_s = 2.0  # the first attempt hangs: the row stays pending
    await hooks.book("DLV-LIVE-1", reserve=False)
    async with asyncio.timeout(5):
        while not (items := await listing(hooks)):
            await asyncio.sleep(0.02)
    assert items[0]["state"] == "pending"
    body = problem(hooks, await replay(hooks, items[0]["id"]), 409, "IllegalTransition")
    assert "pending" in body["detail"]


async def test_replay_is_refused_when_the_target_is_off(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    sub = await hooks.subscribe()
    receiver.on().always_fail = True
    await hooks.book("DLV-OFF-1", reserve=False)
    await attach(hooks, "acme-off")
    await attach(hooks, "acme-gone")
    await dead_connector_row(hooks, "acme-off", "DLV-OFF-2")
    await dead_connector_row(hooks, "acme-gone", "DLV-OFF-3")
    webhook_row, disabled_row, removed_row = await until(hooks, 3)
    async with hooks.site.gateway.store.transaction() as tx:
        now = datetime.now(UTC)
        assert await tx.connector_attachments.set_active(
            "acme-off", False, at=now, reason="disabled by the operator"
        )
        assert await tx.connector_attachments.remove("acme-gone")
    assert (await hooks.delete(sub["id"])).status_code == 204

    for row, words in [
        (webhook_row, "was deleted"),
        (disabled_row, "is disabled (disabled by the operator)"),
        (removed_row, "was removed"),
    ]:
        body = problem(hooks, await replay(hooks, row["id"]), 409, "IllegalTransition")
        assert words in body["detail"], body
        assert row["targetId"] in body["detail"]
    assert [d["state"] for d in await listing(hooks)] == ["dead"] * 3


async def test_replay_of_a_connector_row_schedules_it_again(hooks: Hooks) -> None:
    await attach(hooks, "acme-live")
    await dead_connector_row(hooks, "acme-live", "DLV-CON-1")
    (dead,) = await listing(hooks)
    answer = await replay(hooks, dead["id"])
    assert answer.status_code == 200, answer.text
    assert (answer.json()["state"], answer.json()["targetKind"]) == ("pending", "connector")


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ({"state": "failed"}, "/query/state"),
        ({"limit": "0"}, "/query/limit"),
        ({"limit": "201"}, "/query/limit"),
        ({"limit": "many"}, "/query/limit"),
        ({"cursor": "bm9wZQ"}, "/query/cursor"),
        ({"cursor": "ZDo1"}, "/query/cursor"),  # a per-webhook cursor is not this list's
        ({"target": "has space"}, "/query/target"),
        ({"target": "x" * 65}, "/query/target"),
        ({"colour": "red"}, "/query/colour"),
    ],
)
async def test_bad_queries_are_422_problems(
    hooks: Hooks, query: dict[str, str], pointer: str
) -> None:
    answer = await hooks.site.client.get(DELIVERIES, params=query, headers=hooks.site.acme.auth())
    body = problem(hooks, answer, 422, "PropertyConstraintViolation")
    assert [e["pointer"] for e in body["errors"]] == [pointer]


async def test_bad_replays_are_problems(hooks: Hooks) -> None:
    for delivery in ("abc", "0", "-1", "999999"):
        problem(hooks, await replay(hooks, delivery), 404, "NotFound")
    await attach(hooks, "acme-bad")
    await dead_connector_row(hooks, "acme-bad", "DLV-BAD-1")
    (dead,) = await listing(hooks)
    path = f"{DELIVERIES}/{dead['id']}/replay"
    forced = await hooks.site.post(path, {"force": True}, key="replay-force-1")
    assert problem(hooks, forced, 422, "PropertyConstraintViolation")["errors"][0]["pointer"] == (
        "/force"
    )
    keyless = await hooks.site.post(path, {})
    problem(hooks, keyless, 400, "IdempotencyKeyMissing")
    unsigned = await hooks.site.client.post(path, json={}, headers={"Idempotency-Key": "k" * 8})
    assert unsigned.status_code == 401
    assert (await hooks.site.client.get(DELIVERIES)).status_code == 401
    (still,) = await listing(hooks)
    assert still["state"] == "dead"


async def test_a_connectors_dead_letter_is_replayed_to_the_carrier(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    receiver.on("/sw").always_fail = True
    await hooks.site.gateway.connectors.add(
        NewAttachment(
            id="acme-sw",
            carrier_id="acme",
            connector="standard-webhooks",
            config={"url": receiver.url("/sw")},
            auth={"type": "api-key", "header": "X-Key", "value": "k-0123456789"},
            delivery={"max_attempts": 2, "backoff_base_s": 0.05, "backoff_cap_s": 0.1},
            events=("parcel.announced",),
        )
    )
    await hooks.book("DLV-SW-1", reserve=False)
    (dead,) = await until(hooks, 1, target="acme-sw")
    assert (dead["targetKind"], dead["state"], dead["attempts"]) == ("connector", "dead", 2)
    assert (dead["lastStatus"], dead["parcelId"]) == (500, "DLV-SW-1")

    receiver.on("/sw").always_fail = False
    answer = await replay(hooks, dead["id"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "pending"
    await receiver.wait_for(1, path="/sw")
    (arrived,) = receiver.delivered("/sw")
    assert arrived.headers["x-key"] == "k-0123456789"
    assert arrived.json()["type"] == "parcel.announced"
    assert b"DLV-SW-1" in arrived.body
    (done,) = await until(hooks, 1, target="acme-sw")
    assert (done["state"], done["attempts"], done["lastStatus"]) == ("delivered", 1, 204)

    # Disabled by the operator: its dead letters wait until it is enabled again.
    receiver.on("/sw").always_fail = True
    await hooks.book("DLV-SW-2", reserve=False)
    _, second = await until(hooks, 2, target="acme-sw")
    assert second["state"] == "dead"
    await hooks.site.gateway.connectors.disable("acme-sw", "carrier maintenance")
    body = problem(hooks, await replay(hooks, second["id"]), 409, "IllegalTransition")
    assert "acme-sw is disabled (carrier maintenance)" in body["detail"]


async def test_a_skipped_delivery_can_be_replayed(hooks: Hooks) -> None:
    await attach(hooks, "acme-sms")
    body = dump(sample_event(carrier_id="acme", recipient=False))
    new = NewDelivery(
        event_id=str(uuid.uuid4()),
        target_id="acme-sms",
        carrier_id="acme",
        parcel_uid="uid-DLV-SKIP-1",
        parcel_seq=1,
        type=body["type"],
        body=body,
        target_kind=TargetKind.CONNECTOR,
    )
    # Due only tomorrow, so that the running engine leaves it to this test's own claim.
    later = datetime.now(UTC) + timedelta(days=1)
    async with hooks.site.gateway.store.transaction() as tx:
        assert await tx.outbox.enqueue(new, at=later)
        (claimed,) = await tx.outbox.claim(now=later, lease_until=later, limit=5)
        assert await tx.outbox.mark_skipped(claimed, reason="the recipient opted out")
    (skipped,) = await listing(hooks, state="skipped")
    assert skipped["lastError"] == "the recipient opted out"
    answer = await replay(hooks, skipped["id"])
    assert answer.status_code == 200, answer.text
    assert (answer.json()["state"], answer.json()["attempts"]) == ("pending", 0)
    assert await listing(hooks, state="skipped") == []
