"""Parcel events reach a real receiver: signed, in parcel order, retried, dead-lettered."""

from __future__ import annotations

import asyncio

import jwt
import pytest

from tests.webhooks.conftest import FakeCarrier, Hooks, verify


async def test_book_and_cancel_arrive_in_order_and_signed(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    sub = await hooks.subscribe()
    await hooks.book("WH-ORDER-1")
    await hooks.cancel("WH-ORDER-1")

    await receiver.wait_for(3)

    jwks = await hooks.jwks()
    got = receiver.delivered()
    assert [r.json()["type"] for r in got] == [
        "parcel.announced",
        "parcel.reserved",
        "parcel.cancelled",
    ]
    assert [r.json()["event"]["seq"] for r in got] == [1, 2, 3]
    for request in got:
        assert verify(jwks, request)["kid"] == jwks["keys"][0]["kid"]
        body = request.json()
        hooks.site.spec.validate("webhook-event", body)
        assert request.headers["content-type"] == "application/json"
        assert request.headers["olp-event-id"] == body["eventId"]
        assert request.headers["olp-event-type"] == body["type"]
        assert request.attempt == 1
        assert body["carrierId"] == "acme"
        assert body["parcel"]["parcelId"] == "WH-ORDER-1"
    assert got[-1].json()["parcel"]["state"] == "cancelled"
    assert len({r.event_id for r in got}) == 3

    listed = await hooks.settled(sub["id"], 3)
    assert [d["eventId"] for d in listed] == [r.event_id for r in got]
    assert {d["state"] for d in listed} == {"delivered"}
    for item in listed:
        hooks.site.spec.validate("webhook-delivery", item)


async def test_a_tampered_body_fails_verification(hooks: Hooks, receiver: FakeCarrier) -> None:
    await hooks.subscribe()
    await hooks.book("WH-TAMPER-1", reserve=False)
    await receiver.wait_for(1)
    original = receiver.delivered()[0]
    forged = type(original)(
        original.path,
        original.headers,
        original.body.replace(b"WH-TAMPER-1", b"WH-TAMPER-2"),
        original.status,
    )
    jwks = await hooks.jwks()
    with pytest.raises(jwt.InvalidSignatureError):
        verify(jwks, forged)


async def test_retried_after_500s_with_a_stable_event_id(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    sub = await hooks.subscribe()
    receiver.on().fail_next = 2
    await hooks.book("WH-RETRY-1", reserve=False)

    await receiver.wait_for(1)

    assert [(r.status, r.attempt) for r in receiver.received] == [(500, 1), (500, 2), (204, 3)]
    assert len({r.event_id for r in receiver.received}) == 1
    assert len({r.headers["olp-signature"] for r in receiver.received}) == 1  # same bytes
    (delivery,) = await hooks.settled(sub["id"], 1)
    assert delivery["state"] == "delivered"
    assert delivery["attempts"] == 3
    assert delivery["lastStatus"] == 204
    assert delivery["lastError"] is None


async def test_ordering_holds_while_the_first_event_is_failing(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    await hooks.subscribe()
    receiver.on().fail_next = 3  # the first event of the parcel fails three times
    await hooks.book("WH-WAIT-1")  # announced, then reserved

    await receiver.wait_for(2)

    sequence = [(r.json()["event"]["seq"], r.status) for r in receiver.received]
    assert sequence == [(1, 500), (1, 500), (1, 500), (1, 204), (2, 204)]


async def test_slow_receiver_times_out_and_does_not_hold_up_others(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    slow = await hooks.subscribe(receiver.url("/slow"))
    await hooks.subscribe(receiver.url("/fast"))
    receiver.on("/slow").delay_s = 1.5  # longer than webhook_timeout_s (1 s)

    started = asyncio.get_running_loop().time()
    await hooks.book("WH-SLOW-1", reserve=False)
    await receiver.wait_for(1, path="/fast")
    fast_after = asyncio.get_running_loop().time() - started

    assert fast_after < 0.9, f"the fast receiver waited {fast_after:.2f} s for the slow one"
    items = await hooks.settled_attempt(slow["id"])
    assert items[0]["lastError"] == "no answer within 1 s"
    assert items[0]["lastStatus"] is None


async def test_permanent_failure_goes_dead_then_an_api_retry_delivers(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    sub = await hooks.subscribe()
    receiver.on().always_fail = True
    await hooks.book("WH-DEAD-1", reserve=False)

    (dead,) = await hooks.settled(sub["id"], 1)
    assert dead["state"] == "dead"
    assert dead["attempts"] == 4  # webhook_max_attempts
    assert (dead["lastStatus"], dead["lastError"]) == (500, "HTTP 500")
    assert dead["nextAttemptAt"] is None
    assert await hooks.deliveries(sub["id"], state="dead") == [dead]
    assert await hooks.deliveries(sub["id"], state="pending") == []
    assert [r.attempt for r in receiver.received] == [1, 2, 3, 4]

    receiver.on().always_fail = False
    path = f"/v1/webhooks/{sub['id']}/deliveries/{dead['id']}/retry"
    retried = await hooks.site.post(path, {}, key="retry-dead-1")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["state"], retried.json()["attempts"]) == ("pending", 0)
    replay = await hooks.site.post(path, {}, key="retry-dead-1")
    assert replay.json() == retried.json()  # the first answer, not a second retry

    await receiver.wait_for(1)
    (delivered,) = await hooks.settled(sub["id"], 1)
    assert delivered["state"] == "delivered"
    assert delivered["eventId"] == dead["eventId"]
    assert {r.event_id for r in receiver.received} == {dead["eventId"]}  # dedupe id is stable
    again = await hooks.site.post(path, {}, key="retry-dead-2")
    assert again.status_code == 409
    assert again.json()["code"] == "IllegalTransition"


async def test_the_next_event_goes_out_once_the_first_is_dead(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    sub = await hooks.subscribe()
    receiver.on().fail_next = 4  # every attempt of the first event
    await hooks.book("WH-DEAD-2")

    await receiver.wait_for(1)

    items = await hooks.settled(sub["id"], 2)
    assert [(d["type"], d["state"]) for d in items] == [
        ("parcel.announced", "dead"),
        ("parcel.reserved", "delivered"),
    ]


async def test_only_the_subscribed_types_and_own_parcels_are_delivered(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    only_cancelled = await hooks.subscribe(receiver.url("/cancelled"), events=["parcel.cancelled"])
    globex_sub = await hooks.subscribe(receiver.url("/globex"), carrier=hooks.site.globex)
    await hooks.book("WH-FILTER-1")
    await hooks.cancel("WH-FILTER-1")
    body = {"parcelId": "WH-GLOBEX-1", "lockerId": "KRK-MAIN-01", "sizeClass": "M"}
    booked = await hooks.site.post("/v1/parcels", body, key="globex-1", carrier=hooks.site.globex)
    assert booked.status_code == 201

    await receiver.wait_for(1, path="/cancelled")
    await receiver.wait_for(2, path="/globex")
    # What was queued is in the outbox, written in each transition's own transaction, so it
    # is complete once the calls answered; once every row is settled none is sent again.
    queued = await hooks.settled(only_cancelled["id"], 1)
    assert [(d["type"], d["state"]) for d in queued] == [("parcel.cancelled", "delivered")]
    async with asyncio.timeout(10):
        while True:
            path = f"/v1/webhooks/{globex_sub['id']}/deliveries"
            response = await hooks.site.get(path, carrier=hooks.site.globex)
            items = response.json()["items"]
            if len(items) == 2 and all(d["state"] == "delivered" for d in items):
                break
            await asyncio.sleep(0.02)

    cancelled = receiver.delivered("/cancelled")
    assert [r.json()["type"] for r in cancelled] == ["parcel.cancelled"]
    globex = receiver.delivered("/globex")
    assert {r.json()["parcel"]["parcelId"] for r in globex} == {"WH-GLOBEX-1"}
    assert {r.json()["carrierId"] for r in globex} == {"globex"}
    assert len(receiver.received) == 3


async def test_a_rolled_back_transition_enqueues_nothing(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    sub = await hooks.subscribe()
    await hooks.book("WH-ONCE-1", reserve=False)
    body = {"parcelId": "WH-ONCE-1", "lockerId": "WAW-CENTRAL-01", "sizeClass": "S"}
    twice = await hooks.site.post("/v1/parcels", body, key="book-again-1")
    assert twice.status_code == 409  # AlreadyExists: its transaction rolled back
    full = {"parcelId": "WH-HUGE-1", "lockerId": "KRK-MAIN-01", "sizeClass": "XL"}
    assert (await hooks.site.post("/v1/parcels", full, key="book-huge-1")).status_code == 409

    # The outbox is written in the transition's transaction: complete once the calls
    # answered. Its one row settled, nothing is left to send.
    items = await hooks.settled(sub["id"], 1)
    assert [(d["type"], d["state"]) for d in items] == [("parcel.announced", "delivered")]
    assert len(receiver.received) == 1


async def test_deleting_a_subscription_gives_up_its_pending_deliveries(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    sub = await hooks.subscribe()
    receiver.on().always_fail = True
    await hooks.book("WH-GONE-1")  # two events; the second waits behind the first
    await receiver.wait_for_attempts(1)

    deleted = await hooks.delete(sub["id"])
    assert deleted.status_code == 204

    items = await hooks.settled(sub["id"], 2)
    assert {d["state"] for d in items} == {"dead"}
    assert items[1]["lastError"] == "the subscription was deleted"
    path = f"/v1/webhooks/{sub['id']}/deliveries/{items[1]['id']}/retry"
    refused = await hooks.site.post(path, {}, key="retry-gone-1")
    assert refused.status_code == 409
    attempts = len(receiver.received)
    await hooks.cancel("WH-GONE-1")
    # Nothing new is queued for it (the outbox row would exist once the cancel answered).
    assert len(await hooks.deliveries(sub["id"])) == 2
    assert {d["state"] for d in await hooks.deliveries(sub["id"])} == {"dead"}
    assert len(receiver.received) == attempts
