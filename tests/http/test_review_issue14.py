"""Review of the issue-14 work (bundles, courier sessions): races on PostgreSQL, the keypad's
attempt limits under a reusable courier code, and hand-made bad requests.

Each test here failed before its fix (notes/review.md says which and how)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from gateway.domain.enums import ParcelAction
from gateway.domain.keypad import KeypadPolicy
from gateway.service.courier_sessions import CourierSessions
from gateway.service.keypad import KeypadOutcome, KeypadVerdict, try_code
from tests.http.conftest import Site
from tests.webhooks.conftest import FakeCarrier

WAW = "WAW-CENTRAL-01"
BUNDLE_EVENTS = ["bundle.partially_picked_up", "bundle.picked_up"]


def _postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises every transaction (BEGIN IMMEDIATE): no race to lose")


async def test_two_pickups_of_one_bundle_at_once_still_report_the_bundle_picked_up(
    site: Site, database_url: str
) -> None:
    """Two doors of one bundle closed at the same moment: each pickup's transaction read the
    other parcel as still inside (READ COMMITTED), so both sent `partially_picked_up` and the
    carrier never got `bundle.picked_up`."""
    _postgres_only(database_url)
    async with FakeCarrier() as receiver:
        hook = await site.post(
            "/v1/webhooks",
            {"url": receiver.url("/bundles"), "events": BUNDLE_EVENTS},
            key="review-sub-1",
        )
        assert hook.status_code == 201, hook.text
        booked = await site.post(
            "/v1/bundles",
            {
                "bundleId": "REVIEW-RACE-1",
                "lockerId": WAW,
                "parcels": [
                    {"parcelId": "REVIEW-RACE-1-A", "sizeClass": "S"},
                    {"parcelId": "REVIEW-RACE-1-B", "sizeClass": "S"},
                ],
            },
            key="review-bundle-1",
        )
        assert booked.status_code == 201, booked.text
        gateway = site.gateway
        store = gateway.store
        for parcel_id in ("REVIEW-RACE-1-A", "REVIEW-RACE-1-B"):
            async with store.transaction() as tx:
                parcel = await tx.parcels.get("acme", parcel_id)
                assert parcel is not None
                await gateway.parcels.apply_in(tx, parcel, ParcelAction.DEPOSIT)

        first_written = asyncio.Event()
        release_first = asyncio.Event()

        async def pick_up(parcel_id: str, *, hold: bool) -> None:
            async with store.transaction() as tx:
                parcel = await tx.parcels.get("acme", parcel_id)
                assert parcel is not None
                await gateway.parcels.apply_in(tx, parcel, ParcelAction.PICK_UP)
                if hold:
                    first_written.set()
                    await release_first.wait()

        first = asyncio.create_task(pick_up("REVIEW-RACE-1-A", hold=True))
        await first_written.wait()
        second = asyncio.create_task(pick_up("REVIEW-RACE-1-B", hold=False))
        await asyncio.sleep(0.5)  # the second pickup runs as far as it can meanwhile
        release_first.set()
        await asyncio.gather(first, second)

        await receiver.wait_for(2, path="/bundles", patience_s=20)
        await asyncio.sleep(0.5)  # nothing more comes
        events = [json.loads(r.body) for r in receiver.delivered("/bundles")]
        types = [e["type"] for e in sorted(events, key=lambda e: e["occurredAt"])]
        assert sorted(types) == BUNDLE_EVENTS, types
        bundle = (await site.get("/v1/bundles/REVIEW-RACE-1")).json()
        assert bundle["state"] == "picked_up"


async def test_one_open_courier_session_per_carrier_and_locker_under_concurrent_opens(
    site: Site, database_url: str
) -> None:
    """Eight opens at once at one locker: one session (the others 409 naming it). On
    PostgreSQL the check-then-insert let several through: several codes, each with its own
    round, so one door could be opened by two rounds."""
    _postgres_only(database_url)
    answers = await asyncio.gather(
        *(
            site.post("/v1/courier-sessions", {"lockerId": WAW, "courierRef": f"van-{i}"})
            for i in range(8)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 7, [a.text for a in answers]


async def _entry(site: Site, rounds: CourierSessions, typed: str) -> KeypadOutcome:
    async with site.gateway.store.transaction() as tx:
        return await try_code(
            tx,
            codes=site.gateway.codes,
            policy=KeypadPolicy(),
            locker_id=WAW,
            typed=typed,
            rounds=rounds,
        )


async def test_a_courier_session_code_does_not_wipe_the_keypads_wrong_code_count(
    site: Site,
) -> None:
    """A session code is typed many times (once per door) and lives for hours: whoever saw it
    typed could reset the window and back-off between guesses and run the whole daily
    budget of wrong codes in minutes. A single-use parcel code cannot do that."""
    opened = await site.post("/v1/courier-sessions", {"lockerId": WAW})
    assert opened.status_code == 201, opened.text
    session_code = opened.json()["code"]
    rounds = CourierSessions(store=site.gateway.store, codes=site.gateway.codes)
    guesses = (f"{n:08d}" for n in range(31_000_000, 32_000_000))

    for _ in range(4):
        assert (await _entry(site, rounds, next(guesses))).verdict is KeypadVerdict.REJECTED
    done = await _entry(site, rounds, session_code)
    assert done.verdict is KeypadVerdict.ROUND_DONE  # the round is empty: nothing opens
    fifth = await _entry(site, rounds, next(guesses))
    assert fifth.verdict is KeypadVerdict.REJECTED
    assert fifth.lockout is not None, "the 5th wrong code in the window must lock the keypad"
    # Locked: even the session code is not looked at now.
    assert (await _entry(site, rounds, session_code)).verdict is KeypadVerdict.LOCKED_OUT


async def _send(site: Site, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = site.acme.auth() | kwargs.pop("headers", {})
    return await site.client.request(method, path, headers=headers, **kwargs)


# Hand-made requests against the new routes: each must be a 4xx problem, never a 500.
_PROBES: list[tuple[str, str, Any]] = [
    ("POST", "/v1/bundles", {"bundleId": "P1", "lockerId": WAW, "parcels": [{}]}),
    ("POST", "/v1/bundles", {"bundleId": "P2", "lockerId": WAW, "parcels": "x"}),
    ("POST", "/v1/bundles", {"bundleId": "", "lockerId": WAW, "parcels": []}),
    (
        "POST",
        "/v1/bundles",
        {"bundleId": "P3", "lockerId": "NOPE", "parcels": [{"parcelId": "P3-A", "sizeClass": "S"}]},
    ),
    (
        "POST",
        "/v1/bundles",
        {
            "bundleId": "P4",
            "lockerId": WAW,
            "parcels": [{"parcelId": "P4-A", "sizeClass": "S", "weightG": 10**30}],
        },
    ),
    (
        "POST",
        "/v1/bundles",
        {
            "bundleId": "P5",
            "lockerId": WAW,
            "parcels": [
                {"parcelId": "P5-A", "dimensionsMm": {"length": 10**12, "width": 1, "height": 1}}
            ],
        },
    ),
    (
        "POST",
        "/v1/bundles",
        {
            "bundleId": "P6",
            "lockerId": WAW,
            "reservationTtlSeconds": 10**15,
            "parcels": [{"parcelId": "P6-A", "sizeClass": "S"}],
        },
    ),
    (
        "POST",
        "/v1/bundles",
        {
            "bundleId": "P7",
            "lockerId": WAW,
            "pickupWindowSeconds": -1,
            "parcels": [{"parcelId": "P7-A", "sizeClass": "S"}],
        },
    ),
    (
        "POST",
        "/v1/bundles",
        {
            "bundleId": "P8",
            "lockerId": WAW,
            "parcels": [
                {
                    "parcelId": "P8-A",
                    "sizeClass": "S",
                    "requirements": {"temperatureClass": "frozen"},
                }
            ],
        },
    ),
    (
        "POST",
        "/v1/bundles",
        {
            "bundleId": "P9",
            "lockerId": WAW,
            "parcels": [
                {
                    "parcelId": "P9-A",
                    "sizeClass": "S",
                    "requirements": {"accessibleHeightMm": {"min": 900, "max": 100}},
                }
            ],
        },
    ),
    ("POST", "/v1/bundles", [1, 2]),
    ("POST", "/v1/bundles", None),
    ("GET", "/v1/bundles/" + "x" * 5000, None),
    ("GET", "/v1/bundles/%F0%9F%92%A9", None),
    ("POST", "/v1/bundles/NOPE/codes", {}),
    ("POST", "/v1/bundles/NOPE/codes", {"purpose": "collect"}),
    ("POST", "/v1/bundles/NOPE/codes", []),
    ("POST", "/v1/bundles/NOPE/grants", {"purpose": "pickup"}),
    ("POST", "/v1/bundles/NOPE/grants", {"purpose": 7}),
    ("POST", "/v1/courier-sessions", {}),
    ("POST", "/v1/courier-sessions", {"lockerId": WAW, "ttlSeconds": 10**20}),
    ("POST", "/v1/courier-sessions", {"lockerId": WAW, "ttlSeconds": 300.5}),
    ("POST", "/v1/courier-sessions", {"lockerId": WAW, "courierRef": "x" * 10000}),
    ("POST", "/v1/courier-sessions", {"lockerId": "NOPE"}),
    ("GET", "/v1/courier-sessions/" + "y" * 5000, None),
    ("POST", "/v1/courier-sessions/NOPE/code", {}),
    ("POST", "/v1/courier-sessions/NOPE/code", {"x": 1}),
    ("POST", "/v1/courier-sessions/NOPE/close", {}),
    ("POST", "/v1/courier-sessions/NOPE/open-next", {}),
    ("GET", "/v1/collection-manifest?lockerId=", None),
    ("GET", "/v1/collection-manifest?lockerId=NOPE", None),
    ("GET", "/v1/collection-manifest?lockerId=" + "z" * 100, None),
    ("GET", "/v1/collection-manifest?other=1", None),
    ("GET", "/v1/collection-manifest?" + "&".join(f"lockerId=L{i}" for i in range(60)), None),
]


@pytest.mark.parametrize(("method", "path", "body"), _PROBES)
async def test_hand_made_bad_requests_get_a_problem_not_a_500(
    site: Site, method: str, path: str, body: Any
) -> None:
    kwargs: dict[str, Any] = {"headers": {"Idempotency-Key": f"probe-{abs(hash(path)):x}"}}
    if method == "POST":
        kwargs["json"] = body
    response = await _send(site, method, path, **kwargs)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    site.spec.validate("problem", response.json())


async def test_concurrent_bundle_bookings_never_double_book(site: Site) -> None:
    """The same bundle under six keys at once: one booking, five 409 AlreadyExists; one key
    six times at once: one booking answered six times; six bundles for a locker with room
    for three: three booked, three 409 BundleOverCapacity, no compartment taken twice."""
    body: dict[str, Any] = {
        "bundleId": "REVIEW-CC-1",
        "lockerId": WAW,
        "parcels": [
            {"parcelId": "REVIEW-CC-1-A", "sizeClass": "S"},
            {"parcelId": "REVIEW-CC-1-B", "sizeClass": "M"},
        ],
    }
    answers = await asyncio.gather(
        *(site.post("/v1/bundles", body, key=f"review-cc-{i}") for i in range(6))
    )
    assert (
        sorted((a.status_code, a.json().get("code")) for a in answers)
        == [(201, None)] + [(409, "AlreadyExists")] * 5
    )
    one = {
        "bundleId": "REVIEW-CC-2",
        "lockerId": WAW,
        "parcels": [{"parcelId": "REVIEW-CC-2-A", "sizeClass": "XS"}],
    }
    answers = await asyncio.gather(
        *(site.post("/v1/bundles", one, key="review-cc-same") for _ in range(6))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({json.dumps(a.json(), sort_keys=True) for a in answers}) == 1
    # Left: 1 XS, 2 S, 2 M, 1 L, 1 XL; each bundle wants an S and an XS (or larger).
    answers = await asyncio.gather(
        *(
            site.post(
                "/v1/bundles",
                {
                    "bundleId": f"REVIEW-M-{i}",
                    "lockerId": WAW,
                    "parcels": [
                        {"parcelId": f"REVIEW-M-{i}-A", "sizeClass": "S"},
                        {"parcelId": f"REVIEW-M-{i}-B", "sizeClass": "XS"},
                    ],
                },
                key=f"review-m-{i}",
            )
            for i in range(6)
        )
    )
    codes = sorted((a.status_code, a.json().get("code")) for a in answers)
    assert all(status in (201, 409) for status, _ in codes), codes
    booked = [a.json() for a in answers if a.status_code == 201]
    doors = [p["compartmentCode"] for b in booked for p in b["parcels"]]
    assert len(doors) == len(set(doors)) == 2 * len(booked)
    assert len(booked) == 3, codes  # 7 doors left, 2 per bundle, the XL/L/M take the rest


async def test_concurrent_bundle_codes_leave_one_working_code(
    site: Site, database_url: str
) -> None:
    """A new bundle code replaces the unused one. Six asked at once on PostgreSQL each
    retired the codes committed before it and all six stayed valid for the same doors."""
    _postgres_only(database_url)
    booked = await site.post(
        "/v1/bundles",
        {
            "bundleId": "REVIEW-CODE-1",
            "lockerId": WAW,
            "parcels": [{"parcelId": "RC-1-A", "sizeClass": "S"}],
        },
        key="review-code-1",
    )
    assert booked.status_code == 201, booked.text
    answers = await asyncio.gather(
        *(site.post("/v1/bundles/REVIEW-CODE-1/codes", {}) for _ in range(6))
    )
    assert {a.status_code for a in answers} == {201}
    async with site.gateway.store.transaction() as tx:
        record = await tx.bundles.get("acme", "REVIEW-CODE-1")
        assert record is not None
        active = await tx.codes.active_count(record.uid, site.clock())
    assert active == 1


async def test_concurrent_parcel_codes_leave_one_working_code(
    site: Site, database_url: str
) -> None:
    """The same for one parcel's `/codes` (the path bundle codes copied)."""
    _postgres_only(database_url)
    booked = await site.post(
        "/v1/parcels", {"parcelId": "RC-2-A", "lockerId": WAW, "sizeClass": "S"}, key="review-rc-2"
    )
    assert booked.status_code == 201, booked.text
    answers = await asyncio.gather(*(site.post("/v1/parcels/RC-2-A/codes", {}) for _ in range(6)))
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    async with site.gateway.store.transaction() as tx:
        parcel = await tx.parcels.get("acme", "RC-2-A")
        assert parcel is not None
        active = await tx.codes.active_count(parcel.uid, site.clock())
    assert active == 1


async def test_a_code_given_back_after_a_failed_open_does_not_revive_beside_its_replacement(
    site: Site,
) -> None:
    """A code is redeemed, its door fails to open, and meanwhile the carrier asks for a new
    code (which retires only unused ones). Giving the old code back made both work."""
    booked = await site.post(
        "/v1/parcels", {"parcelId": "RC-3-A", "lockerId": WAW, "sizeClass": "S"}, key="review-rc-3"
    )
    assert booked.status_code == 201, booked.text
    first = await site.post("/v1/parcels/RC-3-A/codes", {})
    assert first.status_code == 201, first.text
    codes = site.gateway.codes
    async with site.gateway.store.transaction() as tx:
        entered = await codes.redeem(tx, WAW, first.json()["code"])
    assert entered is not None
    second = await site.post("/v1/parcels/RC-3-A/codes", {})
    assert second.status_code == 201, second.text
    async with site.gateway.store.transaction() as tx:
        await tx.codes.restore(entered.id)  # the door of the first entry did not open
        active = await tx.codes.active_count(entered.parcel_uid, site.clock())
    assert active == 1
    async with site.gateway.store.transaction() as tx:
        assert await codes.redeem(tx, WAW, first.json()["code"]) is None
        assert await codes.redeem(tx, WAW, second.json()["code"]) is not None
