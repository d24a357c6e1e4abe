"""`courier.session_opened` (with the locker's collection manifest) and
`courier.session_closed` reach the carrier's subscriptions that name them, signed, in order."""

from __future__ import annotations

from tests.webhooks.conftest import FakeCarrier, Hooks

LOCKER = "WAW-CENTRAL-01"
COURIER_EVENTS = ["courier.session_opened", "courier.session_closed"]


async def test_session_events_reach_only_the_carrier_s_subscriptions_naming_them(
    hooks: Hooks, receiver: FakeCarrier
) -> None:
    site = hooks.site
    await hooks.subscribe(receiver.url("/courier"), events=COURIER_EVENTS)
    await hooks.subscribe(receiver.url("/all"))  # every type: parcel events only
    await hooks.subscribe(receiver.url("/globex"), events=COURIER_EVENTS, carrier=site.globex)
    await hooks.book("EVT-1")  # a parcel event, so "/all" has something to receive

    opened = await site.post("/v1/courier-sessions", {"lockerId": LOCKER, "courierRef": "r-1"})
    assert opened.status_code == 201, opened.text
    sid = opened.json()["sessionId"]
    closed = await site.post(f"/v1/courier-sessions/{sid}/close", {}, key="close-evt-1")
    assert closed.status_code == 200, closed.text

    await receiver.wait_for(2, path="/courier")
    first, second = receiver.delivered("/courier")
    assert [r.json()["type"] for r in (first, second)] == COURIER_EVENTS
    for received in (first, second):
        body = received.json()
        site.spec.validate("webhook-courier-event", body)
        assert body["carrierId"] == "acme"
        assert body["session"]["sessionId"] == sid
        assert "code" not in body["session"]  # the code is never sent anywhere
        assert received.headers["olp-event-type"] == body["type"]
        assert received.headers["olp-event-id"] == body["eventId"]
        assert "olp-signature" in received.headers
    assert first.json()["session"]["state"] == "open"
    assert first.json()["manifest"] == {"lockerId": LOCKER, "items": []}
    assert second.json()["session"] == closed.json()
    assert "manifest" not in second.json()

    await receiver.wait_for(1, path="/all")
    assert all(r.json()["type"].startswith("parcel.") for r in receiver.delivered("/all"))
    assert receiver.delivered("/globex") == []  # another carrier's round is not its business
