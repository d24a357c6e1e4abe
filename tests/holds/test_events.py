"""A hold's end as a signed webhook, to the carrier's subscriptions that name it."""

from __future__ import annotations

import uuid
from typing import Any

from tests.webhooks.conftest import FakeCarrier, Hooks, verify

HOLD_EVENTS = ["hold.converted", "hold.released", "hold.expired"]
KRK = "KRK-MAIN-01"


async def new_hold(hooks: Hooks, **extra: Any) -> str:
    body = {"lockerId": KRK, "sizeClass": "M", **extra}
    response = await hooks.site.post("/v1/holds", body, key=uuid.uuid4().hex)
    assert response.status_code == 201, response.text
    hold_id: str = response.json()["holdId"]
    return hold_id


async def test_each_end_of_a_hold_is_one_signed_event(hooks: Hooks, receiver: FakeCarrier) -> None:
    site = hooks.site
    holds = await hooks.subscribe(receiver.url("/holds"), events=HOLD_EVENTS)
    every = await hooks.subscribe(receiver.url("/all"))  # every type: parcel events only
    await hooks.subscribe(receiver.url("/globex"), events=HOLD_EVENTS, carrier=site.globex)

    released = await new_hold(hooks)
    response = await site.post(f"/v1/holds/{released}/release", {}, key=uuid.uuid4().hex)
    assert response.status_code == 200, response.text
    converted = await new_hold(hooks, reference="order 7")
    await hooks.book("HOLD-EV-1", lockerId=KRK, sizeClass="M", holdId=converted)
    expired = await new_hold(hooks, ttlSeconds=60)
    # Settled before the clock jumps (a jump past a sender's lease would send them again).
    await hooks.settled(holds["id"], 2)
    await hooks.settled(every["id"], 2)  # the booking's announced and reserved
    site.clock.advance(61)
    assert await site.gateway.holds.expire_due() == 1
    await receiver.wait_for(3, path="/holds")
    bodies = [r.json() for r in receiver.delivered("/holds")]
    assert len({b["eventId"] for b in bodies}) == 3
    for body in bodies:
        site.spec.validate("webhook-hold-event", body)
    by_type = {b["type"]: b for b in bodies}
    assert set(by_type) == set(HOLD_EVENTS)
    assert by_type["hold.released"]["hold"]["holdId"] == released
    assert by_type["hold.released"]["hold"]["state"] == "released"
    assert by_type["hold.converted"]["hold"]["parcelId"] == "HOLD-EV-1"
    assert by_type["hold.converted"]["hold"]["reference"] == "order 7"
    assert by_type["hold.expired"]["hold"]["holdId"] == expired
    assert (
        by_type["hold.expired"]["hold"]["endedAt"] == by_type["hold.expired"]["hold"]["expiresAt"]
    )
    assert all(b["carrierId"] == "acme" for b in bodies)
    jwks = await hooks.jwks()
    for request in receiver.delivered("/holds"):
        verify(jwks, request)
        assert request.headers["olp-event-type"] == request.json()["type"]
        assert request.headers["olp-event-id"] == request.json()["eventId"]
    # Only the hold's carrier hears of it; a subscription to every type gets parcel events.
    assert receiver.delivered("/globex") == []
    assert {r.json()["type"] for r in receiver.delivered("/all")} == {
        "parcel.announced",
        "parcel.reserved",
    }


async def test_a_reservation_made_from_a_hold_expires_with_its_own_event(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    site = hooks.site
    sub = await hooks.subscribe(
        receiver.url("/ends"), events=["hold.converted", "parcel.reservation_expired"]
    )
    hold_id = await new_hold(hooks)
    await hooks.book(
        "HOLD-EV-2", lockerId=KRK, sizeClass="M", holdId=hold_id, reservationTtlSeconds=60
    )
    await hooks.settled(sub["id"], 1)  # hold.converted, before the clock jumps
    site.clock.advance(61)
    assert await site.gateway.parcels.expire_due() == 1
    await receiver.wait_for(2, path="/ends")
    converted, expired = (r.json() for r in receiver.delivered("/ends"))
    assert (converted["type"], converted["hold"]["parcelId"]) == ("hold.converted", "HOLD-EV-2")
    site.spec.validate("webhook-event", expired)
    assert expired["type"] == "parcel.reservation_expired"
    assert (expired["parcel"]["parcelId"], expired["parcel"]["state"]) == (
        "HOLD-EV-2",
        "reservation_expired",
    )
    # The compartment is free again, for anyone.
    check = await site.get(f"/v1/lockers/{KRK}/precheck", sizeClass="M")
    assert check.json()["classes"][0]["spare"] == 2
