"""A real gateway on a free port over each database, with operators of every role, carriers
and two provisioned lockers; `Desk` is one browser-like client (its own cookie jar)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from gateway.app import Gateway
from gateway.auth.operator_secrets import PasswordHashing
from gateway.domain.audit import AuditAction
from gateway.domain.operators import Argon2Cost, Operator, Role
from gateway.settings import Settings
from gateway.store.audit import AuditRecord
from tests.admin.openapi_check import checker
from tests.http.conftest import NETWORK, provision, settings_for
from tests.support.carriers import TestCarrier
from tests.support.clock import MovableClock

PASSWORD = "correct horse battery staple"
IDLE_S = 600
ABSOLUTE_S = 3600
MAX_FAILURES = 3
LOCKOUT_S = 60
OPERATORS = {"alice": Role.ADMIN, "oscar": Role.OPERATOR, "vera": Role.VIEWER}
# argon2id at its cheapest: a production-cost check (0.2-0.5 s on a loaded host) at every
# sign-in made these suites several times slower. What the cost buys is tested on its own
# (test_password_cost.py); everything else here needs only a hash that verifies.
CHEAP = Argon2Cost(time_cost=1, memory_cost=8, parallelism=1)
CHEAP_PASSWORDS = {
    "password_time_cost": CHEAP.time_cost,
    "password_memory_cost": CHEAP.memory_cost,
    "password_parallelism": CHEAP.parallelism,
    "password_cost_below_owasp_for_tests": True,
}


@dataclass
class Desk:
    """One signed-in (or not) browser: a cookie jar and the session's CSRF token."""

    client: httpx.AsyncClient
    csrf: str | None = None

    async def login(self, operator_id: str, password: str = PASSWORD) -> httpx.Response:
        answer = await self.client.post(
            "/v1/admin/session", json={"operatorId": operator_id, "password": password}
        )
        if answer.status_code == 200:
            self.csrf = answer.json()["csrfToken"]
        return answer

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.client.get(path, params=params)

    async def post(self, path: str, body: Any = None, *, csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf and self.csrf else {}
        return await self.client.post(path, json=body if body is not None else {}, headers=headers)


@dataclass
class AdminSite:
    gateway: Gateway
    clock: MovableClock
    acme: TestCarrier
    desks: list[Desk] = field(default_factory=list)

    async def desk(self, operator_id: str | None = None) -> Desk:
        """A fresh client, signed in as `operator_id` if given."""
        client = self.client()
        desk = Desk(client)
        self.desks.append(desk)
        if operator_id is not None:
            answer = await desk.login(operator_id)
            assert answer.status_code == 200, answer.text
        return desk

    def client(self) -> httpx.AsyncClient:
        """A client whose every admin answer is checked against openapi.yaml."""
        return httpx.AsyncClient(
            base_url=self.gateway.base_url, timeout=30, event_hooks={"response": [checker()]}
        )

    async def audit(self, action: AuditAction, limit: int = 20) -> list[AuditRecord]:
        async with self.gateway.store.transaction() as tx:
            return await tx.audit.latest(limit, action=action.value)

    async def book(self, parcel_id: str, locker_id: str = "WAW-CENTRAL-01") -> dict[str, Any]:
        """A reserved parcel, booked through the carrier API."""
        async with httpx.AsyncClient(base_url=self.gateway.base_url) as client:
            headers = self.acme.auth() | {"Idempotency-Key": f"book-{parcel_id}"}
            body = {"parcelId": parcel_id, "lockerId": locker_id, "sizeClass": "S"}
            answer = await client.post("/v1/parcels", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        booked: dict[str, Any] = answer.json()
        return booked

    async def uid(self, parcel_id: str) -> str:
        async with self.gateway.store.transaction() as tx:
            parcel = await tx.parcels.get("acme", parcel_id)
        assert parcel is not None
        return parcel.uid


@functools.cache
def password_hash() -> str:
    return PasswordHashing(cost=CHEAP).hash(PASSWORD)


def admin_settings(database_url: str, **operators: Any) -> Settings:
    limits = {
        "session_idle": IDLE_S,
        "session_absolute": ABSOLUTE_S,
        "login_max_failures": MAX_FAILURES,
        "login_lockout_base": LOCKOUT_S,
    } | CHEAP_PASSWORDS
    return settings_for(database_url, operators=limits | operators)


@pytest.fixture
async def admin_site(database_url: str) -> AsyncIterator[AdminSite]:
    clock = MovableClock()
    acme = TestCarrier.ed25519("acme", NETWORK)
    async with Gateway(settings=admin_settings(database_url), clock=clock) as gateway:
        await gateway.carriers.register("acme", acme.jwks, "ACME Parcel")
        await provision(gateway, "waw-central.yaml", "krk-main.yaml")
        # Stored directly, with one (cheap) hash made per run.
        async with gateway.store.transaction() as tx:
            for operator_id, role in OPERATORS.items():
                operator = Operator(operator_id, operator_id.title(), role, clock())
                await tx.operators.add(operator, password_hash())
        site = AdminSite(gateway, clock, acme)
        try:
            yield site
        finally:
            for desk in site.desks:
                await desk.client.aclose()


def problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The answer is problem+json with this status and OLP code."""
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json"), answer.headers
    body: dict[str, Any] = answer.json()
    assert (body["status"], body["code"]) == (status, code), body
    return body
