"""Courier sessions and the collection manifest through the carrier API: the answers, the
refusals (each a specific problem), and what a session code opens at the locker."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from gateway.domain.enums import ParcelAction
from gateway.service.collection_manifest import lines_in
from gateway.service.courier_sessions import CourierSessions, RoundDoor
from gateway.service.housekeeping import Housekeeping
from gateway.store.tables import outbox
from tests.http.conftest import Site
from tests.support.carriers import TestCarrier
from tests.support.problems import problem

WAW = "WAW-CENTRAL-01"
KRK = "KRK-MAIN-01"


def key() -> str:
    return uuid.uuid4().hex


def auth(site: Site, carrier: TestCarrier | None = None) -> dict[str, str]:
    """A token minted on the gateway's clock, which these tests move forward."""
    return (carrier or site.acme).auth(iat=site.clock().timestamp())


async def post(
    site: Site,
    path: str,
    body: Any,
    *,
    key: str | None = None,
    carrier: TestCarrier | None = None,
) -> httpx.Response:
    headers = auth(site, carrier)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await site.client.post(path, json=body, headers=headers)


async def get(
    site: Site, path: str, params: Any = None, *, carrier: TestCarrier | None = None
) -> httpx.Response:
    return await site.client.get(path, params=params, headers=auth(site, carrier))


async def open_session(site: Site, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    response = await post(site, "/v1/courier-sessions", body, **kw)
    assert response.status_code == 201, response.text
    session: dict[str, Any] = response.json()
    site.spec.validate("courier-session", session)
    return session


async def typed_at(site: Site, locker_id: str, code: str) -> RoundDoor | None:
    """What the code would open if typed now at `locker_id` (decided, then rolled back)."""
    rounds = CourierSessions(store=site.gateway.store, codes=site.gateway.codes)

    class Undo(Exception):
        pass

    found: RoundDoor | None = None
    try:
        async with site.gateway.store.transaction() as tx:
            found = await rounds.next_door(tx, locker_id, code)
            raise Undo
    except Undo:
        pass
    return found


async def deposited(site: Site, parcel_id: str, locker_id: str = WAW, **extra: Any) -> str:
    body = {"parcelId": parcel_id, "lockerId": locker_id, "sizeClass": "S", **extra}
    response = await post(site, "/v1/parcels", body, key=key())
    assert response.status_code == 201, response.text
    parcel = await site.gateway.parcels.get("acme", parcel_id)
    action = (
        ParcelAction.DROP_OFF if body.get("direction") == "first_mile" else ParcelAction.DEPOSIT
    )
    await site.gateway.parcels.apply_action(parcel.uid, action)
    return str(response.json()["compartmentCode"])


async def test_open_read_new_code_close(site: Site) -> None:
    opened = await post(
        site, "/v1/courier-sessions", {"lockerId": WAW, "courierRef": "route-7", "ttlSeconds": 3600}
    )
    assert opened.status_code == 201, opened.text
    session = opened.json()
    sid, code = session["sessionId"], session["code"]
    assert opened.headers["Location"] == f"/v1/courier-sessions/{sid}"
    assert len(code) == 10
    assert code.isdigit()
    assert (session["state"], session["courierRef"], session["items"]) == ("open", "route-7", [])
    assert await typed_at(site, WAW, code) is not None
    assert await typed_at(site, KRK, code) is None  # bound to its locker

    read = await get(site, f"/v1/courier-sessions/{sid}")
    assert read.status_code == 200
    site.spec.validate("courier-session", read.json())
    assert "code" not in read.json()

    again = await post(site, f"/v1/courier-sessions/{sid}/code", {})
    assert again.status_code == 201, again.text
    site.spec.validate("courier-session-code", again.json())
    newer = again.json()["code"]
    assert newer != code
    assert await typed_at(site, WAW, code) is None  # the old code stopped working
    door = await typed_at(site, WAW, newer)
    assert door is not None
    assert door.parcel is None

    closed = await post(site, f"/v1/courier-sessions/{sid}/close", {}, key="close-1-abc")
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"
    assert await typed_at(site, WAW, newer) is None
    # Closed: a replay answers the same, a closed session gets no new code.
    replay = await post(site, f"/v1/courier-sessions/{sid}/close", {}, key="close-1-abc")
    assert replay.json() == closed.json()
    problem(await post(site, f"/v1/courier-sessions/{sid}/code", {}), 409, "IllegalTransition")
    # ... and the carrier may open a new one at that locker.
    await open_session(site, {"lockerId": WAW})


async def test_one_open_session_per_carrier_and_locker(site: Site) -> None:
    first = await open_session(site, {"lockerId": WAW})
    refused = problem(
        await post(site, "/v1/courier-sessions", {"lockerId": WAW}), 409, "AlreadyExists"
    )
    assert first["sessionId"] in refused["detail"]
    await open_session(site, {"lockerId": KRK})  # another locker
    await open_session(site, {"lockerId": WAW}, carrier=site.globex)  # another carrier


async def test_refusals_are_specific(site: Site) -> None:
    problem(await post(site, "/v1/courier-sessions", {"lockerId": "NOPE-01"}), 404, "NotFound")
    for body, pointer in [
        ({}, ""),
        ({"lockerId": WAW, "ttlSeconds": 60}, "/ttlSeconds"),
        ({"lockerId": WAW, "ttlSeconds": 86400}, "/ttlSeconds"),
        ({"lockerId": WAW, "courierRef": "Jan Kowalski"}, "/courierRef"),
        ({"lockerId": WAW, "code": "0123456789"}, ""),
    ]:
        response = await post(site, "/v1/courier-sessions", body)
        assert response.status_code == 422, (body, response.text)
        pointers = [e["pointer"] for e in response.json().get("errors", [])]
        assert not pointer or pointer in pointers, (body, pointers)
    sid = (await open_session(site, {"lockerId": WAW}))["sessionId"]
    # Another carrier's session is not there for this one.
    for response in (
        await get(site, f"/v1/courier-sessions/{sid}", carrier=site.globex),
        await post(site, f"/v1/courier-sessions/{sid}/code", {}, carrier=site.globex),
        await post(site, f"/v1/courier-sessions/{sid}/close", {}, key=key(), carrier=site.globex),
        await get(site, "/v1/courier-sessions/cs_doesnotexist"),
    ):
        problem(response, 404, "NotFound")
    problem(await post(site, f"/v1/courier-sessions/{sid}/close", {}), 400, "IdempotencyKeyMissing")
    await post(site, f"/v1/courier-sessions/{sid}/close", {}, key="reused-key-1")
    other = (await open_session(site, {"lockerId": KRK}))["sessionId"]
    problem(
        await post(site, f"/v1/courier-sessions/{other}/close", {}, key="reused-key-1"),
        409,
        "IdempotencyConflict",
    )


async def test_an_expired_session_opens_nothing_and_can_be_replaced(site: Site) -> None:
    session = await open_session(site, {"lockerId": WAW, "ttlSeconds": 300})
    sid = session["sessionId"]
    site.clock.advance(301)
    assert (await get(site, f"/v1/courier-sessions/{sid}")).json()["state"] == "expired"
    assert await typed_at(site, WAW, session["code"]) is None
    problem(await post(site, f"/v1/courier-sessions/{sid}/code", {}), 409, "IllegalTransition")
    await open_session(site, {"lockerId": WAW})
    closed = await post(site, f"/v1/courier-sessions/{sid}/close", {}, key=key())
    assert closed.json()["state"] == "closed"


async def test_the_round_opens_the_carrier_s_doors_only_each_once(site: Site) -> None:
    await deposited(site, "OLD-1")  # will expire
    site.clock.advance(73 * 3600)
    assert await site.gateway.parcels.expire_due() == 1
    booked = await post(
        site, "/v1/parcels", {"parcelId": "NEW-1", "lockerId": WAW, "sizeClass": "S"}, key=key()
    )
    other = await post(
        site,
        "/v1/parcels",
        {"parcelId": "GLOBEX-1", "lockerId": WAW, "sizeClass": "S"},
        key=key(),
        carrier=site.globex,
    )
    assert booked.status_code == other.status_code == 201
    session = await open_session(site, {"lockerId": WAW})
    assert [(i["parcelId"], i["task"]) for i in session["items"]] == [
        ("NEW-1", "deposit"),
        ("OLD-1", "collect"),
    ]
    code = session["code"]
    opened: list[str] = []
    for _ in range(3):
        async with site.gateway.store.transaction() as tx:
            rounds = CourierSessions(store=site.gateway.store, codes=site.gateway.codes)
            door = await rounds.next_door(tx, WAW, code)
        assert door is not None
        opened.append(door.parcel.parcel_id if door.parcel else "-")
    assert opened == ["NEW-1", "OLD-1", "-"]
    read = (await get(site, f"/v1/courier-sessions/{session['sessionId']}")).json()
    assert [(i["parcelId"], i["status"]) for i in read["items"]] == [
        ("NEW-1", "opened"),
        ("OLD-1", "opened"),
    ]


async def test_manifest_per_locker_per_route_and_network(site: Site) -> None:
    await deposited(site, "ACME-E1")
    await deposited(site, "ACME-K1", KRK)
    await post(
        site,
        "/v1/parcels",
        {"parcelId": "GLOBEX-E1", "lockerId": WAW, "sizeClass": "M"},
        key=key(),
        carrier=site.globex,
    )
    site.clock.advance(73 * 3600)
    await deposited(site, "ACME-F1", direction="first_mile")

    response = await get(site, "/v1/collection-manifest", {"lockerId": WAW})
    assert response.status_code == 200, response.text
    site.spec.validate("collection-manifest", response.json())
    (waw,) = response.json()["lockers"]
    assert [(i["parcelId"], i["reason"], i["direction"]) for i in waw["items"]] == sorted(
        [("ACME-E1", "overdue", "last_mile"), ("ACME-F1", "dropped_off", "first_mile")],
        key=lambda item: next(
            str(p["compartmentCode"]) for p in waw["items"] if p["parcelId"] == item[0]
        ),
    )
    # Both acme parcels expire (and globex's reservation, never deposited, runs out).
    assert await site.gateway.parcels.expire_due() == 3

    route = await get(site, "/v1/collection-manifest", [("lockerId", KRK), ("lockerId", WAW)])
    assert route.status_code == 200, route.text
    body = route.json()
    assert [locker["lockerId"] for locker in body["lockers"]] == [KRK, WAW]
    assert [i["parcelId"] for i in body["lockers"][0]["items"]] == ["ACME-K1"]
    assert {i["reason"] for i in body["lockers"][1]["items"]} == {"expired", "dropped_off"}
    assert (body["count"], body["truncated"]) == (3, False)

    network = (await get(site, "/v1/collection-manifest")).json()
    assert {locker["lockerId"] for locker in network["lockers"]} == {KRK, WAW}
    assert network["count"] == 3  # only acme's; globex's parcel is not there for acme
    theirs = (await get(site, "/v1/collection-manifest", carrier=site.globex)).json()
    assert theirs["count"] == 0  # globex's M parcel was never deposited


async def test_manifest_refusals(site: Site) -> None:
    problem(await get(site, "/v1/collection-manifest", {"lockerId": "NOPE-01"}), 404, "NotFound")
    problem(
        await get(site, "/v1/collection-manifest", {"route": "x"}),
        422,
        "PropertyConstraintViolation",
    )
    many = [("lockerId", f"L-{n}") for n in range(51)]
    too_many = await get(site, "/v1/collection-manifest", many)
    body = problem(too_many, 422, "PropertyConstraintViolation")
    assert body["errors"][0]["pointer"] == "/query/lockerId"
    twice = [("lockerId", WAW), ("lockerId", WAW)]
    dup = await get(site, "/v1/collection-manifest", twice)
    problem(dup, 422, "PropertyConstraintViolation")


async def test_housekeeping_closes_a_lapsed_session_with_its_event(site: Site) -> None:
    gateway = site.gateway
    sub = await post(
        site,
        "/v1/webhooks",
        {"url": "https://127.0.0.1:9/hooks", "events": ["courier.session_closed"]},
        key=key(),
    )
    assert sub.status_code == 201, sub.text
    lapsing = await open_session(site, {"lockerId": WAW, "ttlSeconds": 300})
    lasting = await open_session(site, {"lockerId": KRK, "ttlSeconds": 3600})
    rounds = CourierSessions(store=gateway.store, codes=gateway.codes)
    housekeeping = Housekeeping(
        store=gateway.store,
        parcels=gateway.parcels,
        courier_sessions=rounds,
        idempotency_retention=timedelta(days=1),
        clock=site.clock,
    )
    await housekeeping.run_once()
    assert (await get(site, f"/v1/courier-sessions/{lapsing['sessionId']}")).json()[
        "state"
    ] == "open"

    site.clock.advance(301)
    await housekeeping.run_once()
    read = (await get(site, f"/v1/courier-sessions/{lapsing['sessionId']}")).json()
    assert read["state"] == "closed"
    assert (await get(site, f"/v1/courier-sessions/{lasting['sessionId']}")).json()[
        "state"
    ] == "open"
    assert await rounds.close_lapsed() == 0  # closed once, one event
    async with gateway.store.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(outbox.c.type, outbox.c.body).where(outbox.c.type.like("courier.%"))
            )
        ).all()
    assert [(r.type, r.body["session"]["sessionId"]) for r in rows] == [
        ("courier.session_closed", lapsing["sessionId"])
    ]
    site.spec.validate("webhook-courier-event", rows[0].body)
    # Closed by the gateway: the carrier's own close answers it as it is.
    closed = await post(site, f"/v1/courier-sessions/{lapsing['sessionId']}/close", {}, key=key())
    assert closed.json() == read


async def test_a_manifest_past_its_bound_says_it_is_truncated(site: Site) -> None:
    await deposited(site, "MANY-1")
    await deposited(site, "MANY-2")
    await deposited(site, "MANY-3", direction="first_mile")
    site.clock.advance(73 * 3600)
    now = site.clock()
    async with site.gateway.store.transaction() as tx:
        whole, more = await lines_in(tx, now, carrier_id="acme", locker_id=WAW, limit=3)
        assert (len(whole), more) == (3, False)
        cut, more = await lines_in(tx, now, carrier_id="acme", locker_id=WAW, limit=2)
        assert (len(cut), more) == (2, True)
