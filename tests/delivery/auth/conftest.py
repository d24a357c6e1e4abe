"""Shared pieces of the auth plugin tests: a rendered request, an attempt context, a client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.delivery.auth import AuthContext
from gateway.sdk.connectors import HttpRequest

CARRIER_URL = "https://api.carrier.example/v2/locker-events?tenant=acme"
BODY = b'{"type":"parcel.ready_for_pickup","parcel":{"id":"P-1"},"note":"caf\xc3\xa9"}'
EVENT_ID = "evt_01J9ZK3V8Q4M5N6P7R8S9T0V1W"


def attempt(*, unix_time: int = 1_767_000_000, event_id: str = EVENT_ID, n: int = 1) -> AuthContext:
    return AuthContext(event_id=event_id, attempt=n, unix_time=unix_time)


def rendered(*, url: str = CARRIER_URL, body: bytes = BODY) -> HttpRequest:
    return HttpRequest(url=url, body=body, headers={"Content-Type": "application/json"})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The engine's httpx client for a route, as far as a plugin sees it."""
    async with httpx.AsyncClient() as http:
        yield http
