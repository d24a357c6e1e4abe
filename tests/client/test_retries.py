"""Retry behaviour against failures a real gateway will not produce on demand (respx)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.client import (
    CarrierApiError,
    CarrierClient,
    Networks,
    NetworkUnreachable,
    RetryPolicy,
    SyncCarrierClient,
    UnreadableAnswer,
)
from gateway.client.retry import retry_after_s

BASE = "https://lockers.example.net"
KEY = ed25519.Ed25519PrivateKey.generate()
POLICY = RetryPolicy(attempts=4, base_s=0.5, cap_s=4.0, max_retry_after_s=30.0)
PARCEL: dict[str, Any] = {
    "parcelId": "R-1",
    "direction": "last_mile",
    "state": "reserved",
    "lockerId": "WAW-1",
    "compartmentCode": "S01",
    "requested": {"sizeClass": "S"},
    "reference": None,
    "reservedUntil": "2026-12-07T10:00:00Z",
    "pickupUntil": None,
    "redirectedFrom": None,
    "redirectedTo": None,
    "createdAt": "2026-12-06T10:00:00Z",
    "updatedAt": "2026-12-06T10:00:00Z",
}


def problem(status: int, code: str) -> dict[str, Any]:
    return {"type": f"https://openlocker.dev/olp/v1/errors#{code}", "status": status, "code": code}


class Sleeps:
    """Records the waits instead of waiting them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    def sync(self, seconds: float) -> None:
        self.waits.append(seconds)


def make(sleeps: Sleeps, policy: RetryPolicy = POLICY) -> CarrierClient:
    return CarrierClient(
        BASE,
        carrier_id="acme",
        private_key=KEY,
        kid="k1",
        audience="net",
        retry=policy,
        sleep=sleeps,
    )


def seen(route: respx.Route, header: str) -> list[str]:
    return [call.request.headers[header] for call in route.calls]


@respx.mock
async def test_429_waits_retry_after_and_keeps_the_idempotency_key() -> None:
    route = respx.post(f"{BASE}/v1/parcels").mock(
        side_effect=[
            httpx.Response(429, json=problem(429, "Unavailable"), headers={"Retry-After": "7"}),
            httpx.Response(503, json=problem(503, "Unavailable")),
            httpx.Response(201, json=PARCEL),
        ]
    )
    sleeps = Sleeps()
    async with make(sleeps) as client:
        parcel = await client.book("R-1", locker_id="WAW-1", size_class="S")
    assert parcel.parcel_id == "R-1"
    assert sleeps.waits[0] == 7.0  # the gateway's hint, not the back-off
    assert 0.5 <= sleeps.waits[1] <= 1.0  # attempt 2 failed: equal jitter in [c/2, c], c = 1
    keys = seen(route, "Idempotency-Key")
    assert len(keys) == 3
    assert len(set(keys)) == 1
    tokens = seen(route, "Authorization")
    jtis = {jwt.decode(t.split()[1], options={"verify_signature": False})["jti"] for t in tokens}
    assert len(jtis) == 3  # a jti is single use: every attempt is signed anew


@respx.mock
async def test_5xx_is_retried_up_to_the_limit_then_raised() -> None:
    route = respx.get(f"{BASE}/v1/parcels/R-1").mock(
        return_value=httpx.Response(502, json=problem(502, "Unavailable"))
    )
    sleeps = Sleeps()
    async with make(sleeps) as client:
        with pytest.raises(CarrierApiError) as failed:
            await client.parcel("R-1")
    assert (failed.value.status, failed.value.attempts) == (502, 4)
    assert route.call_count == 4
    assert len(sleeps.waits) == 3
    assert all(w <= POLICY.cap_s for w in sleeps.waits)


@respx.mock
async def test_client_errors_are_not_retried() -> None:
    for status, code in ((409, "NoCompartmentAvailable"), (422, "PropertyConstraintViolation")):
        route = respx.post(f"{BASE}/v1/parcels").mock(
            return_value=httpx.Response(status, json=problem(status, code))
        )
        sleeps = Sleeps()
        async with make(sleeps) as client:
            with pytest.raises(CarrierApiError) as refused:
                await client.book("R-1", locker_id="WAW-1", size_class="S")
        assert (refused.value.code, refused.value.attempts, route.call_count) == (code, 1, 1)
        assert sleeps.waits == []
        respx.clear()


@respx.mock
async def test_a_retry_after_beyond_the_limit_is_raised_at_once() -> None:
    respx.get(f"{BASE}/v1/lockers").mock(
        return_value=httpx.Response(
            429, json=problem(429, "Unavailable"), headers={"Retry-After": "3600"}
        )
    )
    sleeps = Sleeps()
    async with make(sleeps) as client:
        with pytest.raises(CarrierApiError) as busy:
            await client.list_lockers()
    assert (busy.value.status, busy.value.attempts, sleeps.waits) == (429, 1, [])


@respx.mock
async def test_timeouts_and_lost_connections_are_retried_then_reported() -> None:
    route = respx.post(f"{BASE}/v1/parcels/R-1/grants").mock(
        side_effect=[
            httpx.ReadTimeout("slow"),
            httpx.ConnectError("refused"),
            httpx.Response(
                201,
                json={
                    "token": "a.b.c",
                    "qr": "OLP1:a.b.c",
                    "action": "deposit",
                    "lockerId": "WAW-1",
                    "compartmentCode": "S01",
                    "notBefore": "2026-12-06T10:00:00Z",
                    "expiresAt": "2026-12-06T11:00:00Z",
                    "kid": "n1",
                },
            ),
        ]
    )
    sleeps = Sleeps()
    async with make(sleeps) as client:
        grant = await client.grant("R-1")
        assert grant.compartment_code == "S01"
        assert route.call_count == 3
        respx.get(f"{BASE}/v1/parcels/R-1").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(NetworkUnreachable) as down:
            await client.parcel("R-1")
    assert down.value.attempts == 4
    assert "ConnectError" in str(down.value)


@respx.mock
def test_the_blocking_client_retries_alike() -> None:
    route = respx.post(f"{BASE}/v1/parcels/R-1/cancel").mock(
        side_effect=[
            httpx.Response(503, json=problem(503, "Unavailable"), headers={"Retry-After": "2"}),
            httpx.Response(200, json=PARCEL | {"state": "cancelled"}),
        ]
    )
    sleeps = Sleeps()
    with SyncCarrierClient(
        BASE,
        carrier_id="acme",
        private_key=KEY,
        kid="k1",
        audience="net",
        retry=POLICY,
        sleep=sleeps.sync,
    ) as client:
        assert client.cancel("R-1").state == "cancelled"
    assert sleeps.waits == [2.0]
    keys = seen(route, "Idempotency-Key")
    assert len(keys) == 2
    assert keys[0] == keys[1]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)
    assert retry_after_s("120") == 120.0
    assert retry_after_s(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    assert retry_after_s(format_datetime(now - timedelta(seconds=90), usegmt=True), now=now) == 0
    assert retry_after_s("soon") is None
    assert retry_after_s(None) is None
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(attempts=0)


@respx.mock
async def test_book_nearest_passes_to_the_next_network_when_one_fills_up() -> None:
    def locker(locker_id: str, distance_m: float) -> dict[str, Any]:
        return {
            "id": locker_id,
            "name": locker_id,
            "location": {"lat": 52.2, "lon": 21.0},
            "adapter": "olp",
            "features": [],
            "availability": [{"sizeClass": "M", "available": 1, "total": 1}],
            "distanceM": distance_m,
        }

    near_a, far_b = "https://a.example", "https://b.example"
    respx.get(f"{near_a}/v1/lockers").mock(
        return_value=httpx.Response(200, json={"items": [locker("A-1", 300)], "nextCursor": None})
    )
    respx.get(f"{far_b}/v1/lockers").mock(
        return_value=httpx.Response(200, json={"items": [locker("B-1", 900)], "nextCursor": None})
    )
    # Between the search and the booking, A's last M compartment went to someone else.
    full = respx.post(f"{near_a}/v1/parcels").mock(
        return_value=httpx.Response(409, json=problem(409, "NoCompartmentAvailable"))
    )
    booked = respx.post(f"{far_b}/v1/parcels").mock(
        return_value=httpx.Response(201, json=PARCEL | {"lockerId": "B-1"})
    )
    sleeps = Sleeps()
    clients = [
        CarrierClient(
            url,
            carrier_id="acme",
            private_key=KEY,
            kid="k1",
            audience=net,
            retry=POLICY,
            sleep=sleeps,
        )
        for url, net in ((far_b, "net-b"), (near_a, "net-a"))
    ]
    async with Networks(clients) as networks:
        found = await networks.book_nearest("R-1", near=(52.2, 21.0), size_class="M")
    assert (found.network_id, found.parcel.locker_id) == ("net-b", "B-1")
    assert (full.call_count, booked.call_count, sleeps.waits) == (1, 1, [])


@respx.mock
async def test_a_remote_open_whose_answer_was_lost_waits_for_its_first_attempt() -> None:
    outcome = {
        "outcome": "Unlocked",
        "purpose": "deposit",
        "lockerId": "WAW-1",
        "compartmentCode": "S01",
        "parcelState": "reserved",
    }
    route = respx.post(f"{BASE}/v1/parcels/R-1/open").mock(
        side_effect=[
            httpx.ReadTimeout("the locker is slow; our answer was lost"),
            httpx.Response(409, json=problem(409, "IdempotencyConflict")),  # first still running
            httpx.Response(200, json=outcome),  # the replay of the first attempt's outcome
        ]
    )
    sleeps = Sleeps()
    async with make(sleeps) as client:
        opened = await client.open_door("R-1")
        assert opened.outcome == "Unlocked"
        assert len(set(seen(route, "Idempotency-Key"))) == 1
        # A conflict on the first attempt is someone else's use of the key: raised at once.
        route.side_effect = [httpx.Response(409, json=problem(409, "IdempotencyConflict"))]
        with pytest.raises(CarrierApiError) as conflict:
            await client.open_door("R-1", idempotency_key="reused-key-1")
    assert conflict.value.attempts == 1
    assert len(sleeps.waits) == 2


@respx.mock
async def test_an_answer_that_is_not_the_spec_s_is_named_not_passed_on() -> None:
    respx.get(f"{BASE}/v1/parcels/R-1").mock(
        return_value=httpx.Response(200, text="<html>captive portal</html>")
    )
    respx.get(f"{BASE}/v1/parcels/R-2").mock(
        return_value=httpx.Response(200, json=PARCEL | {"state": 7})
    )
    async with make(Sleeps()) as client:
        with pytest.raises(UnreadableAnswer, match="GET /v1/parcels/R-1"):
            await client.parcel("R-1")
        with pytest.raises(UnreadableAnswer, match="/state: expected a string"):
            await client.parcel("R-2")
